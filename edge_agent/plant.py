"""Resolve a validated plant config against the profile catalogue, or refuse it.

``resolve_plant`` is what both ``hse-edge check-config`` and ``hse-edge run`` call, so a bad config
gets the same message from both. Every problem is collected (not only the first) and named by
its field path in the config file.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from device_profiles import (
    Catalog,
    DeviceEntry,
    ProfileError,
    ResolvedDevice,
    ResolvedPoint,
    resolve_device,
)
from device_profiles.limits import LimitSet
from device_profiles.loader import FieldProblem
from protocols import ProtocolError, driver_class

from .config import ConfigError, PlantConfig


@dataclass(frozen=True)
class Connection:
    """Devices that share one driver: same URL (a Modbus TCP port or RTU bus, an OPC UA server, a broker)."""

    url: str
    devices: tuple[ResolvedDevice, ...]

    @property
    def name(self) -> str:
        return ",".join(d.id for d in self.devices)


@dataclass(frozen=True)
class ResolvedPlant:
    config: PlantConfig
    catalog: Catalog
    limit_set: LimitSet
    devices: tuple[ResolvedDevice, ...]
    plcs: tuple[ResolvedDevice, ...]

    def point_id(self, device_id: str, point_id: str) -> str:
        return f"{self.config.plant_id}/{device_id}/{point_id}"

    def points(self) -> list[tuple[str, ResolvedDevice, ResolvedPoint]]:
        """Every measured point with its full id ``plant/device/point``."""
        return [(self.point_id(d.id, p.point_id), d, p) for d in self.devices for p in d.points]

    def connections(self) -> list[Connection]:
        groups: dict[str, list[ResolvedDevice]] = defaultdict(list)
        for device in self.devices:
            groups[device.entry.url].append(device)
        return [Connection(url, tuple(devs)) for url, devs in groups.items()]

    def device(self, device_id: str) -> ResolvedDevice:
        for d in (*self.devices, *self.plcs):
            if d.id == device_id:
                return d
        raise KeyError(device_id)


def rekey(device: ResolvedDevice) -> ResolvedDevice:
    """Give every point spec the key ``device/point`` so devices can share one driver."""
    points = [
        dataclasses.replace(p, spec=dataclasses.replace(p.spec, key=f"{device.id}/{p.point_id}"))
        for p in device.points
    ]
    return dataclasses.replace(device, points=points)


def _resolve_entries(
    entries: list[DeviceEntry], section: str, catalog: Catalog, problems: list[FieldProblem]
) -> list[ResolvedDevice]:
    resolved = []
    for i, entry in enumerate(entries):
        where = f"{section}[{i}]"
        try:
            driver_class(entry.url)
        except ProtocolError as exc:
            problems.append(FieldProblem(f"{where}.url", entry.url, str(exc)))
        try:
            profile = catalog.profile(entry.profile)
        except KeyError as exc:
            problems.append(FieldProblem(f"{where}.profile", entry.profile, str(exc.args[0])))
            continue
        except ProfileError as exc:
            problems.append(
                FieldProblem(f"{where}.profile", entry.profile, f"profile file is invalid: {exc}")
            )
            continue
        try:
            device = resolve_device(entry, profile)
        except (KeyError, ValueError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            problems.append(FieldProblem(f"{where}.points", sorted(entry.points), str(message)))
            continue
        for point_id, override in entry.points.items():
            if override.alarms is None:
                continue
            pp = profile.point(point_id)
            if override.range is not None:
                pp = pp.model_copy(update={"range": override.range})
            rng = pp.canonical_range()  # limits are in the quantity's canonical unit
            if rng is None:
                continue
            for name in ("ll", "l", "h", "hh"):
                limit = getattr(override.alarms, name)
                if limit is not None and not rng[0] <= limit.value <= rng[1]:
                    problems.append(
                        FieldProblem(
                            f"{where}.points.{point_id}.alarms.{name}.value",
                            limit.value,
                            f"limit is outside the measuring range {list(rng)}",
                        )
                    )
        resolved.append(rekey(device))
    return resolved


def resolve_plant(config: PlantConfig, *, file: str = "<config>") -> ResolvedPlant:
    """Check every reference in ``config`` and resolve it; raises ``ConfigError`` listing all problems."""
    catalog = Catalog(config.profiles_dirs)
    problems: list[FieldProblem] = []
    for i, d in enumerate(config.profiles_dirs):
        if not Path(d).is_dir():
            problems.append(FieldProblem(f"profiles_dirs[{i}]", str(d), "not a directory"))
    limit_set: LimitSet | None = None
    try:
        limit_set = catalog.limit_set(config.limit_set)
    except KeyError as exc:
        problems.append(FieldProblem("limit_set", config.limit_set, str(exc.args[0])))
    except ProfileError as exc:
        problems.append(
            FieldProblem("limit_set", config.limit_set, f"limit set file is invalid: {exc}")
        )
    devices = _resolve_entries(config.devices, "devices", catalog, problems)
    plcs = _resolve_entries(config.plcs, "plcs", catalog, problems)
    for i, plc in enumerate(config.plcs):
        if plc.url.split(":", 1)[0] not in (
            "modbus+tcp",
            "modbus+rtu",
            "modbus+rtu-tcp",
            "opc.tcp",
        ):
            problems.append(
                FieldProblem(
                    f"plcs[{i}].url", plc.url, "interlock outputs are written over Modbus or OPC UA"
                )
            )
    if problems or limit_set is None:
        raise ConfigError(file, problems)
    return ResolvedPlant(config, catalog, limit_set, tuple(devices), tuple(plcs))
