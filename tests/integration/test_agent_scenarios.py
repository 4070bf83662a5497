"""Scenario packs driving simulators on loopback, watched through the agent (issue 4's scenarios).

- ``h2s-leak``: the ramp raises H then HH, the HH latches, the interlock starts the fan on the PLC
  simulator, and an acknowledgement made at central (a real server process) reaches the edge and
  comes back to central as an event;
- ``stuck-sensor``: a flatlined CO cell becomes a fault event;
- bearing wear on an OPC UA vibration transmitter becomes a prediction event.

Scenario time runs faster than wall time (the simulators' clocks are scaled) so each runs in
seconds; the agent polls in real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from device_profiles import Catalog, DeviceEntry
from device_profiles.signals import Growth
from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.outbox import Outbox
from edge_agent.plant import resolve_plant
from protocols.sync import Lane
from simulators.device import SimDevice
from simulators.modbus_server import ModbusSimServer
from simulators.opcua_server import OpcUaSimServer
from simulators.plc import SafetyPlcSim
from simulators.scenario import ScenarioRunner
from tests.support import central as c
from tests.support.ports import free_port
from tests.support.waits import wait_until


class FastClock:
    """Monotonic time running ``factor`` times faster than the wall, for devices and scenarios."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def now(self) -> float:
        return (time.monotonic() - self.t0) * self.factor

    def wall(self) -> float:
        return self.wall0 + self.now()

    async def sleep_until(self, t: float) -> None:
        await asyncio.sleep(max(0.0, (t - self.now()) / self.factor))


def sim_device(device_id: str, profile: str, clock: FastClock, **entry: Any) -> SimDevice:
    e = DeviceEntry(id=device_id, profile=profile, url="modbus+tcp://127.0.0.1:1", **entry)
    return SimDevice(e, Catalog().profile(profile), seed=5, clock=clock.now, wall_clock=clock.wall)


def write_plant(tmp: Path, data: Mapping[str, Any]) -> Path:
    base = {"plant_id": "plant-s", "agent_id": "agent-s", "limit_set": "cn-gbz-2019",
            "outbox": {"path": str(tmp / "outbox.db")}, "status": {"enabled": False}}  # fmt: skip
    path = tmp / "plant.yaml"
    path.write_text(yaml.safe_dump({**base, **data}), encoding="utf-8")
    return path


async def stored_events(path: Path) -> list[Any]:
    async with await Outbox.open(path) as outbox:
        pending = await outbox.take(Lane.EVENTS, 100_000)
        return list(pending.events) if pending else []


async def test_h2s_leak_latches_trips_the_fan_and_a_central_ack_reaches_the_edge(
    tmp_path: Path,
) -> None:
    clock = FastClock(10.0)  # the 60 s ramp of the pack takes 6 s
    database_url = c.sqlite_url(tmp_path)
    admin, _ = c.create_admin(database_url)
    with c.running_server(database_url, tmp_path) as server:
        async with c.server_target(server, database_url, admin) as central:
            _, agent_key, token = await central.new_agent(plant="plant-s")
            gas_port, plc_port = free_port(), free_port()
            path = write_plant(
                tmp_path,
                {
                    "agent_id": agent_key,
                    "central": {"url": server.url, "token": token, "heartbeat_s": 0.5},
                    "devices": [{"id": "gas-h2s-01", "profile": "gd-h2s-mb", "unit_id": 1, "zone": "sws",
                                 "url": f"modbus+tcp://127.0.0.1:{gas_port}", "poll_interval_s": 0.2, "timeout_s": 0.15}],
                    "plcs": [{"id": "plc-1", "profile": "plc-safety-mb", "url": f"modbus+tcp://127.0.0.1:{plc_port}"}],
                    "interlocks": {
                        "outputs": [{"plc": "plc-1", "point": "fan_run", "safe": 1}],
                        "heartbeat": {"plc": "plc-1", "point": "heartbeat", "interval_s": 0.5},
                        "min_write_interval_s": 0,
                        "rules": [{"id": "vent", "when": {"alarm": "plant-s/gas-h2s-01/h2s:hh"},
                                   "then": {"plc": "plc-1", "point": "fan_run", "value": 1}, "otherwise": 0}],
                    },
                },
            )  # fmt: skip
            config = load_config(path, env={})
            plant = resolve_plant(config, file=str(path))
            gas = sim_device("gas-h2s-01", "gd-h2s-mb", clock, unit_id=1)
            gateway = sim_device("gw-01", "gd-gw-ua", clock)  # in the pack; not served here
            runner = ScenarioRunner(
                Catalog().scenario("h2s-leak"), {"gas-h2s-01": gas, "gw-01": gateway}, clock=clock
            )
            async with (
                ModbusSimServer([gas], host="127.0.0.1", port=gas_port),
                SafetyPlcSim(host="127.0.0.1", port=plc_port, watchdog_s=5.0) as plc,
                Agent(plant, token=config.central.resolve_token(tmp_path, {})) as agent,
            ):
                assert agent.safety is not None
                engine = agent.safety.engine
                scenario = asyncio.create_task(runner.run(), name="scenario")
                try:
                    await wait_until(
                        lambda: engine.alarm("plant-s/gas-h2s-01/h2s:h").active, 30, "H"
                    )
                    assert not engine.alarm("plant-s/gas-h2s-01/h2s:hh").active  # H comes first
                    await wait_until(
                        lambda: engine.alarm("plant-s/gas-h2s-01/h2s:hh").active, 30, "HH"
                    )
                    await wait_until(lambda: plc.outputs["fan_run"] is True, 10, "fan on")
                    # The pack brings the gas back down; HH is latched until someone acts.
                    await wait_until(
                        lambda: not engine.alarm("plant-s/gas-h2s-01/h2s:hh").active, 60, "gas down"
                    )
                    assert engine.alarm("plant-s/gas-h2s-01/h2s:hh").latched
                    assert plc.outputs["fan_run"] is True

                    # The acknowledgement is made at central and travels down in a sync response.
                    admin_token = await central.admin_token()
                    r = await central.client.post(
                        f"/api/v1/agents/{agent_key}/commands",
                        json={
                            "kind": "alarm.ack",
                            "payload": {"alarm_id": "plant-s/gas-h2s-01/h2s:hh"},
                        },
                        headers=central.auth(admin_token),
                    )
                    assert r.status_code in (200, 201, 202), r.text
                    await wait_until(
                        lambda: engine.alarm("plant-s/gas-h2s-01/h2s:hh").acked,
                        15,
                        "ack at the edge",
                    )
                finally:
                    scenario.cancel()
                    await asyncio.gather(scenario, return_exceptions=True)

                # ... and its effect comes back to central as an event.
                async def ack_at_central() -> bool:
                    r = await central.get(
                        "/api/v1/events", admin_token, plant="plant-s", kind="limit.hh"
                    )
                    return any(e["transition"] == "ack" for e in r.json()["events"])

                deadline = time.monotonic() + 15
                while not await ack_at_central():
                    assert time.monotonic() < deadline, "the ack event did not reach central"
                    await asyncio.sleep(0.2)
                r = await central.get(
                    "/api/v1/events", admin_token, plant="plant-s", kind="limit.hh"
                )
                ack = next(e for e in r.json()["events"] if e["transition"] == "ack")
                assert str(ack["actor"]).startswith("central:")

                # The PLC's points are registered as written, not measured: central expects no
                # readings from them, so they leave the plant's data completeness alone.
                r = await central.get("/api/v1/points", admin_token, plant="plant-s", limit=500)
                measured = {p["point"]: p["measured"] for p in r.json()["points"]}
                assert measured["plant-s/plc-1/fan_run"] is False
                assert measured["plant-s/plc-1/heartbeat"] is False
                assert measured["plant-s/gas-h2s-01/h2s"] is True
                r = await central.get("/api/v1/fleet/overview", admin_token)
                (mine,) = [p for p in r.json()["plants"] if p["plant"] == "plant-s"]
                assert {d["device"] for d in mine["devices"]} == {"gas-h2s-01"}


async def test_stuck_sensor_pack_becomes_a_fault_event(tmp_path: Path) -> None:
    clock = FastClock(10.0)
    port = free_port()
    path = write_plant(
        tmp_path,
        {"devices": [{"id": "gas-co-01", "profile": "gd-co-mb", "unit_id": 2, "url": f"modbus+tcp://127.0.0.1:{port}",
                      "poll_interval_s": 0.1, "timeout_s": 0.08}]},
    )  # fmt: skip
    plant = resolve_plant(load_config(path, env={}), file=str(path))
    devices = {
        "gas-co-01": sim_device("gas-co-01", "gd-co-mb", clock, unit_id=2),
        "gas-o2-01": sim_device("gas-o2-01", "gd-o2-mb", clock),
        "gw-01": sim_device("gw-01", "gd-gw-ua", clock),
    }
    runner = ScenarioRunner(Catalog().scenario("stuck-sensor"), devices, clock=clock)
    async with (
        ModbusSimServer([devices["gas-co-01"]], host="127.0.0.1", port=port),
        Agent(plant) as agent,
    ):
        assert agent.safety is not None
        engine = agent.safety.engine
        scenario = asyncio.create_task(runner.run(), name="scenario")
        try:
            await wait_until(
                lambda: any(f.kind == "fault.flatline" for f in engine.faults()),
                30,
                "flatline fault",
            )
        finally:
            scenario.cancel()
            await asyncio.gather(scenario, return_exceptions=True)
        await wait_until(
            lambda: agent.safety is not None and agent.safety.events_written > 0, 5, "events stored"
        )
    events = await stored_events(tmp_path / "outbox.db")
    faults = [e for e in events if e.kind == "fault.flatline" and e.transition == "raise"]
    assert [e.point for e in faults] == ["plant-s/gas-co-01/co"]


async def test_bearing_wear_on_an_opc_ua_transmitter_becomes_a_prediction_event(
    tmp_path: Path,
) -> None:
    # One wall second is two hours for the transmitter and the agent's rules: the vibration grows
    # 30 % a day from 2.0 mm/s, so it reaches the ISO 10816-3 group 2 rigid C/D boundary
    # (4.5 mm/s, hse-standards.md §6.1) after ln(4.5/2.0)/0.3 = 2.7 days: under the 7-day horizon.
    clock = FastClock(7200.0)
    port = free_port()
    path = write_plant(
        tmp_path,
        {
            "devices": [{"id": "vib-01", "profile": "gv-vib-ua", "url": f"opc.tcp://127.0.0.1:{port}",
                         "poll_interval_s": 0.2, "timeout_s": 0.15}],
            # the transmitter's source timestamps run ahead of the gateway's clock on purpose
            "quality": {"max_future_skew_s": 1e9},
        },
    )  # fmt: skip
    plant = resolve_plant(load_config(path, env={}), file=str(path))
    vib = sim_device("vib-01", "gv-vib-ua", clock)
    vib.set_signal("velocity_rms", Growth(start=2.0, rate_per_day=0.3, noise=0.01))
    async with (
        OpcUaSimServer([vib], host="127.0.0.1", port=port),
        Agent(plant, wall_clock=clock.wall) as agent,
    ):
        assert agent.safety is not None
        engine = agent.safety.engine
        await wait_until(lambda: any(p.active for p in engine.predictions()), 60, "prediction")
        prediction = next(p for p in engine.predictions() if p.active)
        assert prediction.point == "plant-s/vib-01/velocity_rms"
        assert prediction.r2 is not None
        assert prediction.r2 >= 0.8
        assert prediction.predicted_cd_ts is not None
        days = (prediction.predicted_cd_ts - clock.wall()) / 86400
        assert 0 < days < 7
        await wait_until(
            lambda: agent.safety is not None and agent.safety.events_written > 0, 5, "events stored"
        )
    events = await stored_events(tmp_path / "outbox.db")
    assert any(e.kind == "prediction.vibration_cd" and e.transition == "raise" for e in events)
