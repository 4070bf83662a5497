"""Plant configs, the server plan (pure), and the simulation's server lifecycle with fakes.

The protocol servers (simulators.modbus_server, opcua_server, mqtt_publisher, plc) are written
on other branches; here they are replaced by ``FakeServer``, which records what it was built
with. The end-to-end ``hse-sim run`` against the real servers is an integration test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from device_profiles import Catalog, ProfileError, Protocol
from simulators import plant as plant_module
from simulators.device import SimDevice
from simulators.plant import (
    Endpoint,
    PlantSimulation,
    ServerKind,
    ServerPlan,
    SimulationError,
    build_devices,
    default_server,
    load_plant,
    plan_servers,
)
from simulators.scenario import ScenarioError, VirtualClock

REPO = Path(__file__).resolve().parents[2]
PLANT_FILES = sorted((REPO / "config").rglob("*.yaml"))
DEMO = REPO / "config" / "demo-plant.yaml"
BOUND_S = 10.0

# A stand-in for the safety PLC profile, which the Modbus branch writes (plc-*.yaml).
PLC_STANDIN = {
    "schema_version": 1,
    "id": "plc-safety-mb",
    "manufacturer": "Test stand-in",
    "model": "PLC",
    "kind": "safety_plc",
    "protocol": "modbus",
    "points": [
        {
            "id": "shutdown_valve",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "coil", "address": 0, "type": "bool"},
        }
    ],
}


class FakeServer:
    """Records how it was built and whether it was started and stopped."""

    def __init__(self, devices: Sequence[SimDevice], **kwargs: Any) -> None:
        self.devices = list(devices)
        self.kwargs = kwargs
        self.events: list[str] = []

    @property
    def endpoint(self) -> str:
        k = self.kwargs
        where = k.get("broker_url") or k.get("serial_port") or f"{k.get('host')}:{k.get('port')}"
        return f"fake {where}"

    async def start(self) -> None:
        await asyncio.sleep(0)
        self.events.append("start")

    async def stop(self) -> None:
        await asyncio.sleep(0)
        self.events.append("stop")
        print(f"fake stopped {self.endpoint}", flush=True)


class FakeFactory:
    """A server factory that builds FakeServers, optionally failing or hanging on one kind."""

    def __init__(self, *, fail_start: ServerKind | None = None, hang_start: bool = False) -> None:
        self.servers: list[tuple[ServerPlan, FakeServer]] = []
        self.fail_start = fail_start
        self.hang_start = hang_start

    def __call__(self, plan: ServerPlan, devices: Sequence[SimDevice]) -> FakeServer:
        ep = plan.endpoint
        server = FakeServer(devices, host=ep.host, port=ep.port, broker_url=ep.broker_url)
        if plan.endpoint.kind is self.fail_start:

            async def fail() -> None:
                raise OSError("address already in use")

            server.start = fail  # type: ignore[method-assign]
        elif self.hang_start and self.servers:

            async def hang() -> None:
                await asyncio.Event().wait()

            server.start = hang  # type: ignore[method-assign]
        self.servers.append((plan, server))
        return server


def catalog_with_plc(tmp_path: Path) -> Catalog:
    """The catalogue, plus the PLC stand-in if the real PLC profile is not merged yet."""
    if "plc-safety-mb" in Catalog().profile_ids():
        return Catalog()
    folder = tmp_path / "standin" / "profiles"
    folder.mkdir(parents=True)
    (folder / "plc-safety-mb.yaml").write_text(yaml.safe_dump(PLC_STANDIN), encoding="utf-8")
    return Catalog(extra_dirs=[tmp_path / "standin"])


@pytest.mark.parametrize("path", PLANT_FILES, ids=lambda p: p.stem)
def test_plant_config_loads_and_plans(path: Path, tmp_path: Path) -> None:
    plant, profiles = load_plant(path, catalog_with_plc(tmp_path))
    plan = plan_servers(plant, profiles, file=path)
    planned = [d for server in plan.servers for d in server.device_ids]
    assert sorted(planned) == sorted(e.id for _, _, e in plant.entries())
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    # the keys the edge agent reads, in the shape the brief fixes
    assert {"plant_id", "agent_id", "central", "limit_set", "devices"} <= set(raw)
    central = raw["central"]
    assert central["url"].startswith("https://")
    assert ("token_file" in central) != ("token_env" in central)
    assert "token" not in central  # never a secret in the file


@pytest.mark.parametrize("path", PLANT_FILES, ids=lambda p: p.stem)
def test_plc_profiles_of_the_examples_exist(path: Path) -> None:
    plcs = yaml.safe_load(path.read_text(encoding="utf-8")).get("plcs") or []
    missing = sorted({p["profile"] for p in plcs} - set(Catalog().profile_ids()))
    if missing:
        pytest.skip(f"PLC profiles {missing} come from the Modbus branch (checked at integration)")
    assert plcs or "plcs" not in yaml.safe_load(path.read_text(encoding="utf-8"))


def test_demo_plant_has_every_family_protocol_and_a_plc(tmp_path: Path) -> None:
    plant, profiles = load_plant(DEMO, catalog_with_plc(tmp_path))
    used = [profiles[e.profile] for e in plant.devices]
    assert {p.protocol for p in used} == set(Protocol)
    families = {pt.quantity.split(".")[0] for p in used for pt in p.points}
    assert {"gas", "pressure", "noise", "dust", "vibration"} <= families
    assert any(pt.loop is not None for p in used for pt in p.points)
    assert len(plant.plcs) >= 1
    assert plant.simulation.scenario == "demo"


def test_demo_plan_groups_devices_by_endpoint(tmp_path: Path) -> None:
    plant, profiles = load_plant(DEMO, catalog_with_plc(tmp_path))
    plan = plan_servers(plant, profiles)
    got = {(s.endpoint.kind, s.endpoint.port): set(s.device_ids) for s in plan.servers}
    # the expected grouping, worked out from the URLs independently of the planner
    expected: dict[tuple[ServerKind, int], set[str]] = {}
    for section, _, entry in plant.entries():
        url = urlsplit(entry.url)
        kind = {"opc.tcp": ServerKind.OPCUA, "mqtt": ServerKind.MQTT}.get(
            url.scheme, ServerKind.MODBUS
        )
        if section == "plcs":
            kind = ServerKind.PLC
        assert url.port is not None
        expected.setdefault((kind, url.port), set()).add(entry.id)
    assert got == expected
    modbus = next(s for s in plan.servers if s.endpoint.port == 15020)
    assert modbus.endpoint.framer == "tcp"
    rtu_tcp = next(s for s in plan.servers if s.endpoint.port == 15021)
    assert rtu_tcp.endpoint.framer == "rtu"
    assert rtu_tcp.endpoint.serial_port is None
    assert str(rtu_tcp.endpoint) == "modbus+rtu-tcp://127.0.0.1:15021"
    assert str(modbus.endpoint) == "modbus+tcp://127.0.0.1:15020"
    mqtt = next(s for s in plan.servers if s.endpoint.kind is ServerKind.MQTT)
    assert mqtt.endpoint.broker_url == "mqtt://127.0.0.1:1883"


def _plant_file(tmp_path: Path, devices: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "plant.yaml"
    data = {"plant_id": "p1", "devices": devices} | extra
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _dev(device_id: str, profile: str, url: str, **kw: Any) -> dict[str, Any]:
    return {"id": device_id, "profile": profile, "url": url} | kw


MB = "modbus+tcp://127.0.0.1:15020"
PLAN_ERRORS = [
    (
        "unit id twice on one endpoint",
        [_dev("a", "gd-h2s-mb", MB, unit_id=1), _dev("b", "gd-co-mb", MB, unit_id=1)],
        "devices[1].unit_id",
        "1",
    ),
    (
        "profile default unit id twice",
        [_dev("a", "gd-h2s-mb", MB), _dev("b", "gd-co-mb", MB)],
        "devices[1].unit_id",
        "1",
    ),
    (
        "two kinds of server on one port",
        [_dev("a", "gd-h2s-mb", MB), _dev("b", "gv-vib-ua", "opc.tcp://127.0.0.1:15020")],
        "devices[1].url",
        "127.0.0.1:15020 is already modbus+tcp://127.0.0.1:15020",
    ),
    (
        "two Modbus framers on one port",
        [
            _dev("a", "gd-h2s-mb", MB, unit_id=1),
            _dev("b", "gd-co-mb", "modbus+rtu-tcp://127.0.0.1:15020", unit_id=2),
        ],
        "devices[1].url",
        "127.0.0.1:15020 is already modbus+tcp://127.0.0.1:15020",
    ),
    (
        "one serial line at two baud rates",
        [
            _dev("a", "gd-h2s-mb", "modbus+rtu:///dev/ttyS1", unit_id=1),
            _dev("b", "gd-co-mb", "modbus+rtu:///dev/ttyS1?baudrate=9600", unit_id=2),
        ],
        "devices[1].url",
        "/dev/ttyS1 is already modbus rtu /dev/ttyS1 @ 19200 baud",
    ),
    (
        "profile and scheme disagree",
        [_dev("a", "gv-vib-ua", MB)],
        "devices[0].url",
        "'modbus+tcp://127.0.0.1:15020'",
    ),
    (
        "scheme that cannot be simulated",
        [_dev("a", "gd-h2s-mb", "bacnet://127.0.0.1:47808")],
        "devices[0].url",
        "'bacnet://127.0.0.1:47808'",
    ),
    (
        "bad baudrate",
        [_dev("a", "gd-h2s-mb", "modbus+rtu:///dev/ttyUSB0?baudrate=fast")],
        "devices[0].url",
        "baudrate",
    ),
]


@pytest.mark.parametrize(
    ("devices", "field", "value"), [c[1:] for c in PLAN_ERRORS], ids=[c[0] for c in PLAN_ERRORS]
)
def test_plan_refuses_what_one_server_cannot_serve(
    tmp_path: Path, devices: list[dict[str, Any]], field: str, value: str
) -> None:
    path = _plant_file(tmp_path, devices)
    plant, profiles = load_plant(path)
    with pytest.raises(ProfileError) as caught:
        plan_servers(plant, profiles, file=path)
    message = str(caught.value)
    assert str(path) in message
    assert any(field in ln and value in ln for ln in message.splitlines()), message


def test_plan_refuses_a_node_id_or_topic_served_twice(tmp_path: Path) -> None:
    # Profiles whose addresses lack {device}: two instances would collide on one server.
    folder = tmp_path / "own" / "profiles"
    folder.mkdir(parents=True)
    for pid, protocol, address in [
        ("fixed-ua", "opcua", {"opcua": {"node_id": "ns=2;s=Fixed.H2S"}}),
        ("fixed-mqtt", "mqtt", {"mqtt": {"topic": "plant/fixed", "field": "h2s"}}),
    ]:
        profile = {
            "id": pid,
            "manufacturer": "X",
            "model": "Y",
            "kind": "gas_detector",
            "protocol": protocol,
            "points": [{"id": "h2s", "quantity": "gas.h2s", "unit": "ppm", **address}],
        }
        (folder / f"{pid}.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    catalog = Catalog(extra_dirs=[tmp_path / "own"])
    ua, broker = "opc.tcp://127.0.0.1:14840", "mqtt://127.0.0.1:1883"
    path = _plant_file(
        tmp_path,
        [
            _dev("a", "fixed-ua", ua),
            _dev("b", "fixed-ua", ua),
            _dev("c", "fixed-mqtt", broker),
            _dev("d", "fixed-mqtt", broker),
        ],
    )
    plant, profiles = load_plant(path, catalog)
    with pytest.raises(ProfileError) as caught:
        plan_servers(plant, profiles, file=path)
    problems = {p.path: str(p) for p in caught.value.problems}
    assert "ns=2;s=Fixed.H2S" in problems["devices[1].id"]
    assert "plant/fixed" in problems["devices[3].id"]
    # the same profiles on different endpoints are fine
    path = _plant_file(
        tmp_path, [_dev("a", "fixed-ua", ua), _dev("b", "fixed-ua", "opc.tcp://127.0.0.1:14841")]
    )
    plant, profiles = load_plant(path, catalog)
    assert len(plan_servers(plant, profiles).servers) == 2


LOAD_ERRORS = [
    (
        "device id twice",
        {"devices": [_dev("a", "gd-h2s-mb", MB, unit_id=1), _dev("a", "gd-co-mb", MB, unit_id=2)]},
        "devices[1].id",
        "'a'",
    ),
    (
        "unknown profile",
        {"devices": [_dev("a", "gd-h2x-mb", MB)]},
        "devices[0].profile",
        "'gd-h2x-mb'",
    ),
    (
        "override of an unknown point",
        {"devices": [_dev("a", "gd-h2s-mb", MB, points={"h2z": {"enabled": False}})]},
        "devices[0].points.h2z",
        "'h2z'",
    ),
    (
        "timeout longer than the poll",
        {"devices": [_dev("a", "gd-h2s-mb", MB, poll_interval_s=1, timeout_s=2)]},
        "devices[0].timeout_s",
        "2.0",
    ),
    (
        "unknown limit set",
        {"devices": [_dev("a", "gd-h2s-mb", MB)], "limit_set": "cn-gbz-2099"},
        "limit_set",
        "'cn-gbz-2099'",
    ),
    (
        "unknown scenario",
        {"devices": [_dev("a", "gd-h2s-mb", MB)], "simulation": {"scenario": "h2s-leek"}},
        "simulation.scenario",
        "'h2s-leek'",
    ),
    (
        "misspelt simulation key",
        {"devices": [_dev("a", "gd-h2s-mb", MB)], "simulation": {"sead": 3}},
        "simulation.sead",
        "3",
    ),
    ("device list of the wrong type", {"devices": {"a": 1}}, "devices", "{'a': 1}"),
    (
        "misspelt devices key",
        {"devcies": [_dev("a", "gd-h2s-mb", MB)]},
        "devcies",
        "did you mean 'devices'",
    ),
    ("nothing to simulate", {"devices": [], "agent_id": "x"}, "devices", "no devices to simulate"),
]


@pytest.mark.parametrize(
    ("data", "field", "value"), [c[1:] for c in LOAD_ERRORS], ids=[c[0] for c in LOAD_ERRORS]
)
def test_bad_plant_config_names_file_field_and_value(
    tmp_path: Path, data: dict[str, Any], field: str, value: str
) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump({"plant_id": "p1"} | data), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_plant(path)
    message = str(caught.value)
    assert str(path) in message
    assert any(field in ln and value in ln for ln in message.splitlines()), message


def test_bind_host_serial_map_and_default_ports(tmp_path: Path) -> None:
    path = _plant_file(
        tmp_path,
        [
            _dev("a", "gd-h2s-mb", "modbus+tcp://10.0.0.5", unit_id=1),
            _dev("b", "gd-co-mb", "modbus+rtu:///dev/ttyUSB0?baudrate=9600", unit_id=2),
            _dev("c", "gv-vib-ua", "opc.tcp://gw.plant.local/ua"),
            _dev("d", "gs-noise-mqtt", "mqtt://broker.plant.local"),
        ],
    )
    plant, profiles = load_plant(path)
    plan = plan_servers(
        plant, profiles, bind_host="127.0.0.1", serial_map={"/dev/ttyUSB0": "/tmp/ttyA"}
    )
    endpoints = {s.device_ids[0]: s.endpoint for s in plan.servers}
    assert endpoints["a"] == Endpoint(ServerKind.MODBUS, host="127.0.0.1", port=502)
    assert endpoints["b"] == Endpoint(
        ServerKind.MODBUS, framer="rtu", serial_port="/tmp/ttyA", baudrate=9600
    )
    assert endpoints["c"] == Endpoint(ServerKind.OPCUA, host="127.0.0.1", port=4840)
    # the broker is somebody else's server: --bind does not move it
    assert endpoints["d"].broker_url == "mqtt://broker.plant.local:1883"
    without = plan_servers(plant, profiles)
    assert {s.endpoint.host for s in without.servers if s.endpoint.kind is ServerKind.OPCUA} == {
        "gw.plant.local"
    }


# --- the running simulation, with fake servers ----------------------------------------------------


def _construction_site() -> tuple[Any, dict[str, SimDevice], Any]:
    plant, profiles = load_plant(REPO / "config" / "plants" / "construction-site.yaml")
    plan = plan_servers(plant, profiles)
    return plan, build_devices(plant, profiles, seed=1), Catalog().scenario("dust-episode")


async def test_simulation_starts_every_server_plays_the_scenario_and_stops_them() -> None:
    plan, devices, scenario = _construction_site()
    factory = FakeFactory()
    clock = VirtualClock()
    for device in devices.values():
        device.clock = clock.now
        device.t_start = 0.0
    stop = asyncio.Event()
    sim = PlantSimulation(plan, devices, scenario, server_factory=factory, clock=clock)
    async with sim:
        assert [p for p, _ in factory.servers] == list(plan.servers)
        assert all(s.events == ["start"] for _, s in factory.servers)
        served = {d.id for _, s in factory.servers for d in s.devices}
        assert served == set(devices)
        assert [e for _, e in sim.endpoints()] == [s.endpoint for _, s in factory.servers]
        async with asyncio.timeout(BOUND_S):
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(sim.run(stop))
                await clock.advance_to(0)  # lets run() start the scenario, which takes t0 = 0
                assert sim.statistics().scenario is not None
                assert sim.statistics().scenario.started  # type: ignore[union-attr]
                await clock.advance_to(350)  # inside the second episode, 310-400 s
                assert sim.statistics().scenario is not None
                assert sim.statistics().scenario.finished  # type: ignore[union-attr]
                assert devices["dust-01"].engineering_value("pm10") > 100  # second episode
                stop.set()
        assert task.done()
    assert all(s.events == ["start", "stop"] for _, s in factory.servers)
    assert sim.statistics().servers_running == 0


async def test_stop_before_the_scenario_ends_cancels_it() -> None:
    plan, devices, scenario = _construction_site()
    stop = asyncio.Event()
    stop.set()
    async with PlantSimulation(plan, devices, scenario, server_factory=FakeFactory()) as sim:
        async with asyncio.timeout(BOUND_S):
            await sim.run(stop)
        stats = sim.statistics().scenario
        assert stats is not None
        assert not stats.finished


async def test_a_server_that_fails_to_start_stops_the_ones_already_started() -> None:
    plan, devices, _ = _construction_site()
    kinds = [s.endpoint.kind for s in plan.servers]
    assert kinds == [ServerKind.MODBUS, ServerKind.MQTT, ServerKind.PLC]
    factory = FakeFactory(fail_start=ServerKind.MQTT)
    with pytest.raises(OSError, match="address already in use"):
        async with PlantSimulation(plan, devices, server_factory=factory):
            pytest.fail("must not get here")
    assert factory.servers[0][1].events == ["start", "stop"]
    # the failing MQTT server never started, and the PLC after it was never built
    assert [(p.endpoint.kind, s.events) for p, s in factory.servers[1:]] == [(ServerKind.MQTT, [])]


async def test_a_server_that_hangs_on_start_times_out() -> None:
    plan, devices, _ = _construction_site()
    factory = FakeFactory(hang_start=True)
    sim = PlantSimulation(plan, devices, server_factory=factory, start_timeout_s=0.05)
    with pytest.raises(SimulationError, match=r"did not start within 0\.05 s"):
        async with sim:
            pytest.fail("must not get here")
    assert factory.servers[0][1].events == ["start", "stop"]


def test_a_scenario_that_does_not_fit_is_refused_before_any_server_starts() -> None:
    plan, devices, _ = _construction_site()
    factory = FakeFactory()
    with pytest.raises(ScenarioError, match="gas-h2s-01"):
        PlantSimulation(plan, devices, Catalog().scenario("h2s-leak"), server_factory=factory)
    assert factory.servers == []


EXPECTED_KWARGS = [
    (
        Endpoint(ServerKind.MODBUS, host="127.0.0.1", port=5020),
        {"host": "127.0.0.1", "port": 5020, "framer": "tcp"},
    ),
    (
        Endpoint(ServerKind.MODBUS, host="127.0.0.1", port=5021, framer="rtu"),
        {"host": "127.0.0.1", "port": 5021, "framer": "rtu"},
    ),
    (
        Endpoint(ServerKind.MODBUS, framer="rtu", serial_port="/tmp/ttyA", baudrate=9600),
        {"framer": "rtu", "serial_port": "/tmp/ttyA", "baudrate": 9600},
    ),
    (Endpoint(ServerKind.OPCUA, host="127.0.0.1", port=4840), {"host": "127.0.0.1", "port": 4840}),
    (
        Endpoint(ServerKind.MQTT, host="h", port=1883, broker_url="mqtt://h:1883"),
        {"broker_url": "mqtt://h:1883"},
    ),
]


@pytest.mark.parametrize(("endpoint", "kwargs"), EXPECTED_KWARGS, ids=lambda v: str(v))
def test_default_server_builds_each_kind_with_the_agreed_keywords(
    monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint, kwargs: dict[str, Any]
) -> None:
    fake = f"{__name__}:FakeServer"
    monkeypatch.setattr(plant_module, "_SERVER_CLASSES", dict.fromkeys(ServerKind, fake))
    devices = build_devices(
        *load_plant(REPO / "config" / "plants" / "construction-site.yaml"), seed=0
    )
    server = default_server(ServerPlan(endpoint, ("dust-01",)), [devices["dust-01"]])
    assert isinstance(server, FakeServer)
    assert server.kwargs == kwargs
    assert server.devices == [devices["dust-01"]]


def test_default_server_says_which_module_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        plant_module,
        "_SERVER_CLASSES",
        {ServerKind.OPCUA: "simulators.no_such_server:Nothing"},
    )
    plan = ServerPlan(Endpoint(ServerKind.OPCUA, host="127.0.0.1", port=1), ())
    with pytest.raises(SimulationError, match=r"simulators\.no_such_server\.Nothing"):
        default_server(plan, [])


async def test_default_server_serves_a_plcs_own_profile_on_its_port(port: int) -> None:
    from simulators.plc import SafetyPlcSim

    devices = build_devices(*load_plant(REPO / "config" / "demo-plant.yaml"), seed=0)
    plc = devices["plc-01"]
    server = default_server(
        ServerPlan(Endpoint(ServerKind.PLC, host="127.0.0.1", port=port), ("plc-01",)), [plc]
    )
    assert isinstance(server, SafetyPlcSim)
    assert server.profile is plc.profile
    await server.start()
    try:
        assert server.endpoint.endswith(f":{port}")
        assert server.tripped is False
    finally:
        await server.stop()
