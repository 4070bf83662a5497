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
from .interlocks.conditions import point_of
from .interlocks.config import AlarmLeaf, ExposureLeaf, FaultLeaf, ZoneAlarmLeaf, leaves
from .normalize import TEXT_QUANTITIES
from .rules import RuleEngine, RulesConfig, RulesConfigError, load_rules_config, rule_points


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
    rules: RulesConfig

    def point_id(self, device_id: str, point_id: str) -> str:
        return f"{self.config.plant_id}/{device_id}/{point_id}"

    def points(self) -> list[tuple[str, ResolvedDevice, ResolvedPoint]]:
        """Every measured point with its full id ``plant/device/point`` (text points, such as a
        serial number, are device metadata and left out)."""
        return [
            (self.point_id(d.id, p.point_id), d, p)
            for d in self.devices
            for p in d.points
            if p.quantity not in TEXT_QUANTITIES
        ]

    def text_point_keys(self) -> frozenset[str]:
        return frozenset(
            p.key for d in self.devices for p in d.points if p.quantity in TEXT_QUANTITIES
        )

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
    plant_points = [
        (f"{config.plant_id}/{d.id}/{p.point_id}", d, p)
        for d in devices
        for p in d.points
        if p.quantity not in TEXT_QUANTITIES
    ]
    rules = _check_rules(config, plant_points, limit_set, problems)
    _check_interlocks(config, plant_points, plcs, problems)
    if problems or rules is None:
        raise ConfigError(file, problems)
    return ResolvedPlant(config, catalog, limit_set, tuple(devices), tuple(plcs), rules)


def _check_rules(
    config: PlantConfig,
    points: list[tuple[str, ResolvedDevice, ResolvedPoint]],
    limit_set: LimitSet,
    problems: list[FieldProblem],
) -> RulesConfig | None:
    """Build the rule engine once: every rule error (H above HH, a deadband wider than a gap, a
    limit outside the range, an unknown point) is found here, with its field path."""
    try:
        rules = load_rules_config(config.rules)
        RuleEngine(rule_points(points), rules, limit_set, plant_id=config.plant_id)
    except RulesConfigError as exc:
        problems.extend(exc.problems)
        return None
    return rules


def _check_interlocks(
    config: PlantConfig,
    points: list[tuple[str, ResolvedDevice, ResolvedPoint]],
    plcs: list[ResolvedDevice],
    problems: list[FieldProblem],
) -> None:
    cfg = config.interlocks
    point_ids = {pid for pid, _, _ in points}
    zones = {d.entry.zone for _, d, _ in points if d.entry.zone}
    plc_points = {(plc.id, p.point_id): p for plc in plcs for p in plc.points}
    plc_ids = {plc.id for plc in plcs}

    def plc_point(where: str, plc: str, point: str) -> None:
        if plc not in plc_ids:
            problems.append(
                FieldProblem(
                    f"{where}.plc", plc, f"not a PLC of this plant; plcs: {sorted(plc_ids)}"
                )
            )
        elif (plc, point) not in plc_points:
            known = sorted(p for c, p in plc_points if c == plc)
            problems.append(
                FieldProblem(
                    f"{where}.point", point, f"PLC {plc!r} has no such point; points: {known}"
                )
            )
        elif getattr(plc_points[(plc, point)].spec, "table", None) not in (None, "coil", "holding"):
            problems.append(
                FieldProblem(
                    f"{where}.point", point, "is not writable (not a coil or holding register)"
                )
            )

    for i, out in enumerate(cfg.outputs):
        plc_point(f"interlocks.outputs[{i}]", out.plc, out.point)
    if cfg.heartbeat is not None:
        plc_point("interlocks.heartbeat", cfg.heartbeat.plc, cfg.heartbeat.point)
    allowed = {(o.plc, o.point) for o in cfg.outputs}
    conditions = [(f"interlocks.rules[{i}]", r.when, r.then) for i, r in enumerate(cfg.rules)]
    conditions += [(f"interlocks.access[{i}]", a.when, a.deny) for i, a in enumerate(cfg.access)]
    for where, when, action in conditions:
        if (action.plc, action.point) not in allowed:
            field = "then" if "rules" in where else "deny"
            problems.append(
                FieldProblem(
                    f"{where}.{field}",
                    f"{action.plc}/{action.point}",
                    "is not listed in interlocks.outputs",
                )
            )
        for leaf in leaves(when):
            if isinstance(leaf, AlarmLeaf | ExposureLeaf | FaultLeaf):
                ref = leaf.alarm if isinstance(leaf, AlarmLeaf) else (
                    leaf.exposure if isinstance(leaf, ExposureLeaf) else leaf.fault)  # fmt: skip
                if point_of(ref) not in point_ids:
                    problems.append(
                        FieldProblem(
                            f"{where}.when",
                            ref,
                            "names no point of this plant (plant/device/point)",
                        )
                    )
            elif isinstance(leaf, ZoneAlarmLeaf) and leaf.zone_alarm.zone not in zones:
                problems.append(
                    FieldProblem(
                        f"{where}.when",
                        leaf.zone_alarm.zone,
                        f"no device is in this zone; zones: {sorted(zones)}",
                    )
                )
    for i, access in enumerate(cfg.access):
        if access.zone not in zones:
            problems.append(
                FieldProblem(
                    f"interlocks.access[{i}].zone", access.zone, "no device is in this zone"
                )
            )
