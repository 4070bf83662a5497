"""Simulate a whole plant from its config: which server serves which device, then run them.

Two halves:

- **Planning** (pure, no I/O): :func:`load_plant` reads the plant YAML's ``plant_id``,
  ``limit_set``, ``devices``, ``plcs`` and ``simulation`` keys (the edge agent owns the other
  keys), validates the entries with ``DeviceEntry`` and checks them against the catalogue;
  :func:`plan_servers` groups devices by endpoint (one Modbus server per ``host:port`` or serial
  port, one OPC UA server per ``host:port``, one MQTT publisher per broker, one safety-PLC server
  per PLC endpoint) and refuses what one server cannot serve (a Modbus unit id or an OPC UA node
  id twice, an MQTT topic field twice, two kinds of server on one port). Every problem names the
  file, the field path and the value, like ``device_profiles.loader``.
- **Running**: :class:`PlantSimulation` builds one server per planned endpoint through a factory
  (by default the protocol servers of this package, imported lazily so a missing one only
  matters when a plant needs it), starts them, plays the scenario, and stops them all.

Errors: ``device_profiles.ProfileError`` for a bad plant file; ``ScenarioError`` for a scenario
that does not fit; :class:`SimulationError` when a server cannot be built, started or stopped.
"""

from __future__ import annotations

import asyncio
import difflib
import enum
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from device_profiles import Catalog, DeviceEntry, DeviceProfile, ProfileError
from device_profiles import Protocol as Proto
from device_profiles.loader import FieldProblem, problems_from, read_yaml
from device_profiles.resolve import driver_spec
from device_profiles.signals import Scenario

from .device import SimDevice
from .scenario import Clock, RunnerStatistics, ScenarioRunner

__all__ = [
    "Endpoint",
    "PlantPlan",
    "PlantSimulation",
    "ServerKind",
    "ServerPlan",
    "SimPlant",
    "SimServer",
    "SimulationError",
    "SimulationSettings",
    "build_devices",
    "default_server",
    "load_plant",
    "plan_servers",
]

log = structlog.get_logger(__name__)


class SimulationError(RuntimeError):
    """A simulator server could not be built, started or stopped (not retriable as is)."""


class SimulationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int | None = None  # None: the scenario's seed, else 0
    scenario: str | None = None


class SimPlant(BaseModel):
    """The keys of a plant config the simulator reads; the edge agent validates the rest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    plant_id: str = Field(min_length=1)
    limit_set: str | None = None
    devices: list[DeviceEntry] = Field(default_factory=list)
    plcs: list[DeviceEntry] = Field(default_factory=list)
    simulation: SimulationSettings = SimulationSettings()

    def entries(self) -> list[tuple[str, int, DeviceEntry]]:
        """Every device and PLC with its place in the file: ("devices" | "plcs", index, entry)."""
        return [("devices", i, e) for i, e in enumerate(self.devices)] + [
            ("plcs", i, e) for i, e in enumerate(self.plcs)
        ]


class ServerKind(enum.StrEnum):
    MODBUS = "modbus"
    OPCUA = "opcua"
    MQTT = "mqtt"
    PLC = "plc"


_DEFAULT_PORTS = {
    "modbus+tcp": 502,
    "modbus+rtu-tcp": 502,
    "opc.tcp": 4840,
    "mqtt": 1883,
    "mqtts": 8883,
}
_SCHEME_PROTOCOL = {
    "modbus+tcp": Proto.MODBUS,
    "modbus+rtu": Proto.MODBUS,
    "modbus+rtu-tcp": Proto.MODBUS,
    "opc.tcp": Proto.OPCUA,
    "mqtt": Proto.MQTT,
    "mqtts": Proto.MQTT,
}
DEFAULT_BAUDRATE = 19200


@dataclass(frozen=True, order=True)
class Endpoint:
    """Where one simulator server listens (or, for MQTT, which broker it publishes to)."""

    kind: ServerKind
    host: str = ""
    port: int = 0
    framer: str = "tcp"  # Modbus: "tcp" or "rtu" (RTU framing over TCP or a serial port)
    serial_port: str | None = None
    baudrate: int = DEFAULT_BAUDRATE
    broker_url: str | None = None

    def __str__(self) -> str:
        if self.broker_url is not None:
            return f"mqtt publisher -> {self.broker_url}"
        if self.serial_port is not None:
            return f"{self.kind} rtu {self.serial_port} @ {self.baudrate} baud"
        if self.kind is ServerKind.OPCUA:
            scheme = "opc.tcp"
        else:
            scheme = "modbus+tcp" if self.framer == "tcp" else "modbus+rtu-tcp"
            if self.kind is ServerKind.PLC:
                scheme = f"plc {scheme}"
        return f"{scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class ServerPlan:
    endpoint: Endpoint
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class PlantPlan:
    plant_id: str
    servers: tuple[ServerPlan, ...]


def _endpoint(
    entry: DeviceEntry, is_plc: bool, bind_host: str | None, serial_map: Mapping[str, str]
) -> Endpoint | str:
    """The endpoint that serves ``entry``, or why none can."""
    url = urlsplit(entry.url)
    scheme = url.scheme.lower()
    if scheme not in _SCHEME_PROTOCOL:
        return f"scheme {scheme!r} cannot be simulated; use one of {', '.join(_SCHEME_PROTOCOL)}"
    if scheme == "modbus+rtu":
        query = parse_qs(url.query)
        try:
            baudrate = int(query.get("baudrate", [str(DEFAULT_BAUDRATE)])[0])
        except ValueError:
            return f"baudrate {query['baudrate'][0]!r} is not a number"
        kind = ServerKind.PLC if is_plc else ServerKind.MODBUS
        port_path = serial_map.get(url.path, url.path)
        return Endpoint(kind, framer="rtu", serial_port=port_path, baudrate=baudrate)
    try:
        port = url.port if url.port is not None else _DEFAULT_PORTS[scheme]
    except ValueError as exc:
        return f"bad port: {exc}"
    host = url.hostname or "127.0.0.1"
    if scheme.startswith("mqtt"):
        return Endpoint(
            ServerKind.MQTT, host=host, port=port, broker_url=f"{scheme}://{host}:{port}"
        )
    if is_plc and not scheme.startswith("modbus"):
        return "a safety PLC is simulated over Modbus; use modbus+tcp:// or modbus+rtu-tcp://"
    kind = (
        ServerKind.PLC if is_plc else ServerKind.OPCUA if scheme == "opc.tcp" else ServerKind.MODBUS
    )
    framer = "rtu" if scheme == "modbus+rtu-tcp" else "tcp"
    return Endpoint(kind, host=bind_host or host, port=port, framer=framer)


def _serving_keys(entry: DeviceEntry, profile: DeviceProfile) -> list[tuple[Any, ...]]:
    """What must be unique among the devices of one server: unit id, node ids, topic fields."""
    if profile.protocol is Proto.MODBUS:
        unit = (
            entry.unit_id
            if entry.unit_id is not None
            else (profile.modbus.unit_id if profile.modbus is not None else 1)
        )
        return [("unit id", unit)]
    keys: list[tuple[Any, ...]] = []
    for point in profile.points:
        spec = driver_spec(profile, point, entry)
        if profile.protocol is Proto.OPCUA:
            keys.append(("node id", getattr(spec, "node_id", "")))
        else:
            keys.append(("topic field", getattr(spec, "topic", ""), getattr(spec, "field", None)))
    return keys


def _bound_address(endpoint: Endpoint) -> tuple[str, str] | None:
    """The socket or serial line a server for ``endpoint`` takes; None for brokers and port 0."""
    if endpoint.serial_port is not None:
        return ("serial", endpoint.serial_port)
    if endpoint.broker_url is not None or endpoint.port == 0:
        return None
    return ("tcp", f"{endpoint.host}:{endpoint.port}")


def plan_servers(
    plant: SimPlant,
    profiles: Mapping[str, DeviceProfile],
    *,
    file: Path | str = "<plant>",
    bind_host: str | None = None,
    serial_map: Mapping[str, str] | None = None,
) -> PlantPlan:
    """Group the plant's devices into servers; ``ProfileError`` lists everything that clashes.

    ``profiles`` maps profile id to profile for every device (see :func:`load_plant`).
    ``bind_host`` replaces the URL host for servers this process listens on (not for brokers).
    ``serial_map`` maps the serial port the agent opens to the one the simulator serves.
    """
    problems: list[FieldProblem] = []
    groups: dict[Endpoint, list[str]] = {}
    owners: dict[tuple[Any, ...], str] = {}  # (endpoint, key...) -> device id
    claimed: dict[tuple[str, str], Endpoint] = {}  # a port or serial line serves one endpoint
    for section, i, entry in plant.entries():
        where = f"{section}[{i}]"
        profile = profiles[entry.profile]
        endpoint = _endpoint(entry, section == "plcs", bind_host, serial_map or {})
        if isinstance(endpoint, str):
            problems.append(FieldProblem(f"{where}.url", entry.url, endpoint))
            continue
        scheme = urlsplit(entry.url).scheme.lower()
        if _SCHEME_PROTOCOL[scheme] is not profile.protocol:
            problems.append(
                FieldProblem(
                    f"{where}.url",
                    entry.url,
                    f"profile {profile.id!r} speaks {profile.protocol}, not {scheme}://",
                )
            )
            continue
        bound = _bound_address(endpoint)
        if bound is not None:
            other = claimed.setdefault(bound, endpoint)
            if other != endpoint:
                problems.append(
                    FieldProblem(f"{where}.url", entry.url, f"{bound[1]} is already {other}")
                )
                continue
        clash = False
        for key in _serving_keys(entry, profile):
            owner = owners.setdefault((endpoint, *key), entry.id)
            if owner == entry.id:
                continue
            if key[0] == "unit id":
                default = " (the profile's default; set unit_id)" if entry.unit_id is None else ""
                problem = FieldProblem(
                    f"{where}.unit_id",
                    key[1],
                    f"unit id {key[1]}{default} at {endpoint} is already served for {owner!r}",
                )
            else:
                what = " ".join(f"{v!r}" for v in key[1:] if v is not None)
                problem = FieldProblem(
                    f"{where}.id",
                    entry.id,
                    f"{key[0]} {what} at {endpoint} is already served for {owner!r}",
                )
            problems.append(problem)
            clash = True
            break
        if not clash:
            groups.setdefault(endpoint, []).append(entry.id)
    if problems:
        raise ProfileError(file, problems)
    ordered = sorted(groups.items(), key=lambda item: (item[0].kind, str(item[0])))
    servers = tuple(ServerPlan(ep, tuple(ids)) for ep, ids in ordered)
    return PlantPlan(plant.plant_id, servers)


def load_plant(
    path: Path | str, catalog: Catalog | None = None
) -> tuple[SimPlant, dict[str, DeviceProfile]]:
    """Read and check a plant config; returns it with the profiles its devices use.

    Raises ``ProfileError`` naming the file, each bad field path and value: a malformed entry,
    a device id used twice, an unknown profile or limit set, an override of an unknown point.
    """
    path = Path(path)
    catalog = catalog or Catalog()
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ProfileError(path, [FieldProblem("", data, "expected a mapping at the top level")])
    problems = _misspelt_keys(data)
    try:
        plant = SimPlant.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(path, problems + problems_from(exc, data)) from exc
    if not plant.devices and not plant.plcs:
        problems.append(FieldProblem("devices", data.get("devices", []), "no devices to simulate"))
    profiles: dict[str, DeviceProfile] = {}
    first_use: dict[str, str] = {}
    for section, i, entry in plant.entries():
        where = f"{section}[{i}]"
        seen = first_use.setdefault(entry.id, where)
        if seen != where:
            problems.append(
                FieldProblem(f"{where}.id", entry.id, f"device id already used by {seen}")
            )
        try:
            profile = profiles.get(entry.profile) or catalog.profile(entry.profile)
        except KeyError as exc:
            problems.append(FieldProblem(f"{where}.profile", entry.profile, str(exc.args[0])))
            continue
        except ProfileError as exc:
            problems.append(
                FieldProblem(f"{where}.profile", entry.profile, f"profile is invalid: {exc}")
            )
            continue
        profiles[entry.profile] = profile
        known = {p.id for p in profile.points}
        problems += [
            FieldProblem(
                f"{where}.points.{point_id}",
                point_id,
                f"profile {profile.id!r} has no such point; its points: {', '.join(sorted(known))}",
            )
            for point_id in entry.points
            if point_id not in known
        ]
    if plant.limit_set is not None and plant.limit_set not in catalog.limit_set_ids():
        problems.append(
            FieldProblem(
                "limit_set",
                plant.limit_set,
                f"unknown limit set; known: {', '.join(catalog.limit_set_ids())}",
            )
        )
    if (
        plant.simulation.scenario is not None
        and plant.simulation.scenario not in catalog.scenario_ids()
    ):
        problems.append(
            FieldProblem(
                "simulation.scenario",
                plant.simulation.scenario,
                f"unknown scenario; known: {', '.join(catalog.scenario_ids())}",
            )
        )
    if problems:
        raise ProfileError(path, problems)
    return plant, profiles


_SIM_KEYS = ("plant_id", "limit_set", "devices", "plcs", "simulation")


def _misspelt_keys(data: dict[str, Any]) -> list[FieldProblem]:
    # Other top-level keys belong to the edge agent and are not ours to refuse, but one that
    # is a near miss of ours ("devcies") would silently leave the plant without its devices.
    problems = []
    for key in data:
        if key in _SIM_KEYS or not isinstance(key, str):
            continue
        near = difflib.get_close_matches(key, _SIM_KEYS, n=1, cutoff=0.8)
        if near and near[0] not in data:
            problems.append(FieldProblem(key, data[key], f"unknown key; did you mean {near[0]!r}?"))
    return problems


def build_devices(
    plant: SimPlant,
    profiles: Mapping[str, DeviceProfile],
    *,
    seed: int,
    clock: Callable[[], float] | None = None,
) -> dict[str, SimDevice]:
    """One ``SimDevice`` per device and PLC, all driven by ``seed`` (and ``clock`` if given)."""
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return {
        entry.id: SimDevice(entry=entry, profile=profiles[entry.profile], seed=seed, **extra)
        for _, _, entry in plant.entries()
    }


class SimServer(Protocol):
    """What every simulator server offers (Modbus, OPC UA, MQTT publisher, safety PLC)."""

    @property
    def endpoint(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ServerFactory = Callable[[ServerPlan, Sequence[SimDevice]], SimServer]

_SERVER_CLASSES = {
    ServerKind.MODBUS: "simulators.modbus_server:ModbusSimServer",
    ServerKind.OPCUA: "simulators.opcua_server:OpcUaSimServer",
    ServerKind.MQTT: "simulators.mqtt_publisher:MqttSimPublisher",
    ServerKind.PLC: "simulators.plc:SafetyPlcSim",
}


def default_server(plan: ServerPlan, devices: Sequence[SimDevice]) -> SimServer:
    """Build this package's server for ``plan``, importing its module only now."""
    ep = plan.endpoint
    module_name, _, class_name = _SERVER_CLASSES[ep.kind].partition(":")
    try:
        cls: Any = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise SimulationError(
            f"cannot simulate {ep}: {module_name}.{class_name} is not available ({exc})"
        ) from exc
    server: SimServer
    if ep.kind is ServerKind.MQTT:
        server = cls(list(devices), broker_url=ep.broker_url)
    elif ep.kind is ServerKind.OPCUA:
        server = cls(list(devices), host=ep.host, port=ep.port)
    elif ep.kind is ServerKind.PLC:
        if len(devices) != 1:
            raise SimulationError(
                f"{ep}: one safety PLC per endpoint, got {[d.id for d in devices]}"
            )
        plc = devices[0]
        server = cls(plc.profile, host=ep.host, port=ep.port, unit_id=plc.entry.unit_id)
    elif ep.serial_port is not None:
        server = cls(list(devices), framer="rtu", serial_port=ep.serial_port, baudrate=ep.baudrate)
    else:
        server = cls(list(devices), host=ep.host, port=ep.port, framer=ep.framer)
    return server


@dataclass(frozen=True)
class SimulationStatistics:
    plant_id: str
    servers_running: int
    scenario: RunnerStatistics | None


class PlantSimulation:
    """Owns a plant's servers and scenario: ``async with`` starts them, leaving stops them.

    Servers start in plan order; if one fails the ones already started are stopped before the
    error propagates. Every start and stop is bounded by its timeout.
    """

    def __init__(
        self,
        plan: PlantPlan,
        devices: Mapping[str, SimDevice],
        scenario: Scenario | None = None,
        *,
        server_factory: ServerFactory = default_server,
        clock: Clock | None = None,
        start_timeout_s: float = 15.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.plan = plan
        self.devices = devices
        # The runner checks the scenario against the devices now, before any server starts.
        self.runner = ScenarioRunner(scenario, devices, clock) if scenario is not None else None
        self._factory = server_factory
        self._start_timeout_s = start_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._running: list[tuple[ServerPlan, SimServer]] = []
        self._log = log.bind(plant=plan.plant_id)

    async def __aenter__(self) -> PlantSimulation:
        try:
            for server_plan in self.plan.servers:
                devices = [self.devices[d] for d in server_plan.device_ids]
                server = self._factory(server_plan, devices)
                try:
                    async with asyncio.timeout(self._start_timeout_s):
                        await server.start()
                except TimeoutError as exc:
                    raise SimulationError(
                        f"{server_plan.endpoint} did not start within {self._start_timeout_s} s"
                    ) from exc
                self._running.append((server_plan, server))
                self._log.info(
                    "server started", endpoint=server.endpoint, devices=server_plan.device_ids
                )
        except BaseException:
            await self._stop_all(report=False)  # the start failure is the error to show
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop_all()

    def endpoints(self) -> list[tuple[ServerPlan, str]]:
        """Each running server's plan and the endpoint it actually serves (ports resolved)."""
        return [(plan, server.endpoint) for plan, server in self._running]

    async def run(self, stop: asyncio.Event) -> None:
        """Play the scenario (if any) and serve until ``stop`` is set; the scenario ending does not stop."""
        async with asyncio.TaskGroup() as tg:
            scenario_task = (
                tg.create_task(self.runner.run(), name=f"scenario[{self.runner.scenario.id}]")
                if self.runner is not None
                else None
            )
            await stop.wait()
            if scenario_task is not None:
                scenario_task.cancel()

    async def _stop_all(self, *, report: bool = True) -> None:
        failures = []
        while self._running:
            server_plan, server = self._running.pop()
            try:
                async with asyncio.timeout(self._stop_timeout_s):
                    await server.stop()
            except Exception as exc:  # keep stopping the others; report every failure below
                failures.append(f"{server_plan.endpoint}: {exc!r}")
            else:
                self._log.info("server stopped", endpoint=str(server_plan.endpoint))
        if failures:
            self._log.error("servers failed to stop cleanly", failures=failures)
            if report:
                raise SimulationError("servers failed to stop cleanly: " + "; ".join(failures))

    def statistics(self) -> SimulationStatistics:
        return SimulationStatistics(
            plant_id=self.plan.plant_id,
            servers_running=len(self._running),
            scenario=self.runner.statistics() if self.runner is not None else None,
        )
