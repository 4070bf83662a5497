"""The agent in one process against real simulators on loopback: poll, normalize, alarm,
interlock to the safety PLC, act on alarms over the status API, keep everything in the outbox."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from device_profiles import Catalog, DeviceEntry
from device_profiles.signals import Step
from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.plant import resolve_plant
from protocols.sync import Lane
from simulators.device import SimDevice
from simulators.modbus_server import ModbusSimServer
from simulators.plc import SafetyPlcSim
from tests.support.mosquitto import Broker
from tests.support.ports import free_port
from tests.support.waits import wait_until

OPERATOR_TOKEN = "op-token-for-tests"
H2S = "plant-t/gas-1/h2s"


def plant_config(tmp: Path, gas_port: int, plc_port: int) -> Path:
    config = {
        "plant_id": "plant-t",
        "agent_id": "agent-t",
        "limit_set": "cn-gbz-2019",
        "outbox": {"path": str(tmp / "outbox.db")},
        "status": {"port": 0, "operator_token_env": "HSE_TEST_OPERATOR_TOKEN"},
        "devices": [
            {"id": "gas-1", "profile": "gd-h2s-mb", "url": f"modbus+tcp://127.0.0.1:{gas_port}", "unit_id": 1,
             "area": "unit-1", "zone": "zone-a", "poll_interval_s": 0.2, "timeout_s": 0.15},
        ],
        "plcs": [
            {"id": "plc-1", "profile": "plc-safety-mb", "url": f"modbus+tcp://127.0.0.1:{plc_port}", "unit_id": 1,
             "poll_interval_s": 1.0, "timeout_s": 0.5},
        ],
        "interlocks": {
            "outputs": [{"plc": "plc-1", "point": "fan_run", "safe": 1}],
            "heartbeat": {"plc": "plc-1", "point": "heartbeat", "interval_s": 0.2},
            "min_write_interval_s": 0.0,
            "rules": [
                {"id": "vent-zone-a", "when": {"alarm": f"{H2S}:hh"},
                 "then": {"plc": "plc-1", "point": "fan_run", "value": 1}, "otherwise": 0},
            ],
        },
    }  # fmt: skip
    path = tmp / "plant.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@dataclass
class Rig:
    agent: Agent
    gas: SimDevice
    plc: SafetyPlcSim
    status_url: str


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setenv("HSE_TEST_OPERATOR_TOKEN", OPERATOR_TOKEN)
    gas_port, plc_port = free_port(), free_port()
    path = plant_config(tmp_path, gas_port, plc_port)
    plant = resolve_plant(load_config(path), file=str(path))
    profile = Catalog().profile("gd-h2s-mb")
    gas = SimDevice(plant.config.devices[0], profile, seed=3)
    async with (
        ModbusSimServer([gas], host="127.0.0.1", port=gas_port),
        SafetyPlcSim(host="127.0.0.1", port=plc_port, watchdog_s=2.0) as plc,
        Agent(plant) as agent,
    ):
        assert agent.status is not None
        yield Rig(agent, gas, plc, f"http://127.0.0.1:{agent.status.port}")


def post_action(
    url: str, body: dict[str, object], token: str = OPERATOR_TOKEN
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310
        url + "/alarms/action", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
        return str(resp.read().decode())


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
        data: dict[str, object] = json.load(resp)
        return data


async def test_leak_trips_the_fan_latches_and_is_acked_and_reset_over_the_status_api(
    rig: Rig,
) -> None:
    agent, outbox = rig.agent, rig.agent.outbox
    assert outbox is not None
    assert agent.safety is not None
    # Polling works and the interlock drives the fan to its "no alarm" value (0).
    await wait_until(
        lambda: outbox.statistics().backlog_records.get("readings", 0) > 3, 10, "readings stored"
    )
    await wait_until(
        lambda: rig.plc.outputs["fan_run"] is False, 10, "fan off while the gas is low"
    )

    rig.gas.set_signal("h2s", Step(to=20.0))  # above HH 14 ppm (GB/T 50493 level 2)
    await wait_until(lambda: rig.plc.outputs["fan_run"] is True, 10, "fan on after HH")
    assert agent.safety.engine.alarm(f"{H2S}:hh").state == "active_unacked"

    # Back to normal: the latched HH stays until acknowledged and reset.
    rig.gas.set_signal("h2s", Step(to=0.3))
    await wait_until(
        lambda: agent.safety.engine.alarm(f"{H2S}:hh").active is False, 10, "HH condition clears"
    )
    assert agent.safety.engine.alarm(f"{H2S}:hh").latched
    assert rig.plc.outputs["fan_run"] is True  # still latched: the interlock holds

    await asyncio.to_thread(
        post_action, rig.status_url, {"action": "ack", "alarm_id": f"{H2S}:hh", "actor": "li"}
    )
    status, body = await asyncio.to_thread(
        post_action, rig.status_url, {"action": "reset", "alarm_id": f"{H2S}:hh", "actor": "li"}
    )
    assert status == 200, body
    await wait_until(lambda: rig.plc.outputs["fan_run"] is False, 10, "fan off after reset")
    assert agent.safety.engine.alarm(f"{H2S}:hh").state == "normal"

    # Every transition is an event in the outbox, durably.
    safety = agent.safety
    await wait_until(
        lambda: safety.events_pending() == 0 and safety.events_written >= 5, 15, "events stored"
    )
    pending = await outbox.take(Lane.EVENTS, 1000)
    assert pending is not None
    seen = [(e.kind, e.transition, e.actor) for e in pending.events]
    assert ("limit.hh", "raise", None) in seen
    assert ("limit.hh", "ack", "edge:li") in seen
    assert ("limit.hh", "reset", "edge:li") in seen
    assert ("interlock.vent-zone-a", "trip", None) in seen
    assert any(k == "interlock.output" and t == "write" for k, t, _ in seen)
    await outbox.release(pending)


async def test_status_api_refuses_bad_tokens_and_bad_actions(rig: Rig) -> None:
    alarm = f"{H2S}:hh"
    status, body = await asyncio.to_thread(
        post_action, rig.status_url, {"action": "ack", "alarm_id": alarm, "actor": "x"}, "wrong"
    )
    assert status == 401
    status, body = await asyncio.to_thread(
        post_action, rig.status_url, {"action": "ack", "alarm_id": alarm}
    )
    assert status == 422
    assert "'actor' is required" in str(body["detail"])
    status, body = await asyncio.to_thread(
        post_action, rig.status_url, {"action": "reset", "alarm_id": alarm, "actor": "x"}
    )
    assert status == 409  # nothing to reset in the normal state
    status, body = await asyncio.to_thread(
        post_action,
        rig.status_url,
        {"action": "ack", "alarm_id": "plant-t/nope/x:hh", "actor": "x"},
    )
    assert status == 409
    assert "unknown alarm id" in str(body["detail"])


async def test_status_endpoint_reports_devices_outbox_and_metrics(rig: Rig) -> None:
    await wait_until(lambda: rig.agent.pollers[0].statistics()[0].polls > 2, 10, "polls")
    status = await asyncio.to_thread(get_json, rig.status_url + "/status")
    device = next(d for d in status["devices"] if d["device"] == "gas-1")  # type: ignore[union-attr]
    assert device["connected"] is True
    assert status["plant_id"] == "plant-t"
    metrics = await asyncio.to_thread(get_text, rig.status_url + "/metrics")
    assert 'hse_edge_device_up{device="gas-1"} 1.0' in metrics
    assert "hse_edge_outbox_bytes" in metrics
    health = await asyncio.to_thread(get_json, rig.status_url + "/healthz")
    assert health == {"status": "ok"}


async def test_plc_watchdog_trips_when_the_agent_stops_its_heartbeat(tmp_path: Path) -> None:
    gas_port, plc_port = free_port(), free_port()
    path = plant_config(tmp_path, gas_port, plc_port)
    plant = resolve_plant(load_config(path), file=str(path))
    gas = SimDevice(
        DeviceEntry(**plant.config.devices[0].model_dump()), Catalog().profile("gd-h2s-mb"), seed=1
    )
    async with (
        ModbusSimServer([gas], host="127.0.0.1", port=gas_port),
        SafetyPlcSim(host="127.0.0.1", port=plc_port, watchdog_s=0.8) as plc,
    ):
        async with Agent(plant):
            await wait_until(lambda: plc.outputs["fan_run"] is False, 10, "agent drives the fan")
            await asyncio.sleep(1.2)  # longer than the watchdog: the heartbeat keeps it alive
            assert plc.tripped is False
        await wait_until(lambda: plc.tripped, 5, "watchdog trip after the agent stopped")
        assert plc.outputs["fan_run"] is True  # the safe state


@pytest.mark.mosquitto
async def test_unqualified_badge_into_a_zone_in_alarm_locks_the_door(
    tmp_path: Path, broker: Broker
) -> None:
    from tests.support.mqtt_clients import publish

    gas_port, plc_port = free_port(), free_port()
    path = plant_config(tmp_path, gas_port, plc_port)
    quals = tmp_path / "quals.csv"
    quals.write_text(
        "person_id,qualification,expires\nP-1,h2s-training,2020-01-31\nP-2,h2s-training,2099-12-31\n",
        encoding="utf-8",
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["interlocks"]["outputs"].append({"plc": "plc-1", "point": "door_lock", "safe": 0})
    data["interlocks"].update(
        {
            "badge_topic": "plant-t/badges",
            "badge_broker": broker.url,
            "qualifications_csv": str(quals),
            "access": [
                {"zone": "zone-a", "qualification": "h2s-training",
                 "when": {"zone_alarm": {"zone": "zone-a", "quantity": "gas.h2s"}},
                 "deny": {"plc": "plc-1", "point": "door_lock", "value": 1}},
            ],
        }
    )  # fmt: skip
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    plant = resolve_plant(load_config(path), file=str(path))
    gas = SimDevice(plant.config.devices[0], Catalog().profile("gd-h2s-mb"), seed=2)
    async with (
        ModbusSimServer([gas], host="127.0.0.1", port=gas_port),
        SafetyPlcSim(host="127.0.0.1", port=plc_port, watchdog_s=5.0) as plc,
        Agent(plant) as agent,
    ):
        assert agent.safety is not None
        assert agent.badges is not None
        plc_door = lambda: plc.outputs["door_lock"]  # noqa: E731
        rig_ok = await wait_for_reading(agent)
        assert rig_ok
        # Zone quiet: even the unqualified person gets in (no deny written).
        await publish(
            broker.host, broker.port, [("plant-t/badges", '{"person_id": "P-1", "zone": "zone-a"}')]
        )
        await wait_until(
            lambda: agent.badges is not None and agent.badges.stats.reads == 1, 10, "badge read"
        )
        assert agent.safety.interlocks.denials == 0
        rig_gas_high = Step(to=9.0, noise=0.05)  # above H (7 ppm): zone-a is in alarm
        gas.set_signal("h2s", rig_gas_high)
        await wait_until(
            lambda: agent.safety is not None and agent.safety.engine.alarm(f"{H2S}:h").active,
            10,
            "H",
        )
        messages = [
            (
                "plant-t/badges",
                '{"person_id": "P-2", "zone": "zone-a", "badge": "B-2"}',
            ),  # qualified
            ("plant-t/badges", "{not json"),  # malformed: counted, ignored
            ("plant-t/badges", '{"person_id": "P-1", "zone": "zone-a", "badge": "B-1"}'),  # expired
        ]
        await publish(broker.host, broker.port, messages)
        await wait_until(lambda: plc_door() is True and agent.safety is not None and agent.safety.interlocks.denials == 1,
                         10, "door locked for P-1")  # fmt: skip
        assert agent.badges.stats.malformed == 1
        assert agent.safety.interlocks.denials == 1  # P-2 was let in
        await wait_until(
            lambda: agent.safety is not None and agent.safety.events_written > 0, 5, "events stored"
        )
    # The denial is an alarm event in the outbox.
    from edge_agent.outbox import Outbox

    async with await Outbox.open(tmp_path / "outbox.db") as outbox:
        pending = await outbox.take(Lane.EVENTS, 10_000)
        assert pending is not None
        denied = [e for e in pending.events if e.kind == "access.denied"]
        assert len(denied) == 1
        assert "P-1 has an expired (2020-01-31) h2s-training" in denied[0].message


async def wait_for_reading(agent: Agent) -> bool:
    await wait_until(
        lambda: agent.pipeline is not None and agent.pipeline.statistics().readings_out > 2,
        10,
        "first readings",
    )
    return True


async def test_central_commands_comment_personnel_and_refusals(rig: Rig) -> None:
    from datetime import UTC, datetime

    from protocols.sync import Command, CommandKind

    safety = rig.agent.safety
    assert safety is not None
    now = datetime.now(UTC)

    def command(kind: CommandKind, payload: dict[str, object]) -> Command:
        return Command(id="c1", kind=kind, issued_at=now, issued_by="user:7", payload=payload)

    ok, message = await safety.on_command(
        command(CommandKind.ALARM_COMMENT, {"alarm_id": f"{H2S}:hh", "text": "crew on the way"})
    )
    assert (ok, message) == (True, "comment recorded")
    ok, message = await safety.on_command(command(CommandKind.ALARM_ACK, {"alarm_id": f"{H2S}:zz"}))
    assert ok is False
    assert "unknown alarm id" in message
    ok, message = await safety.on_command(
        command(CommandKind.ALARM_RESET, {"alarm_id": f"{H2S}:hh"})
    )
    assert ok is False  # nothing to reset: a clear refusal, returned to central as the result
    ok, message = await safety.on_command(
        command(
            CommandKind.PERSONNEL_SYNC,
            {"records": [{"person_id": "P-1", "qualification": "h2s", "expires": "2030-01-01"}]},
        )
    )
    assert (ok, message) == (True, "1 person(s) with qualifications loaded")
    assert safety.personnel()["P-1"]["h2s"].isoformat() == "2030-01-01"
    ok, message = await safety.on_command(
        command(CommandKind.PERSONNEL_SYNC, {"records": [{"person_id": "P-2"}]})
    )
    assert ok is False
    assert "records[0]" in message
    assert "P-1" in safety.personnel()  # a bad list never replaces a good one
    await wait_until(lambda: safety.events_pending() == 0, 15, "events stored")
    pending = await rig.agent.outbox.take(Lane.EVENTS, 1000)  # type: ignore[union-attr]
    assert pending is not None
    comments = [e for e in pending.events if e.transition == "comment"]
    assert [(c.actor, c.message) for c in comments] == [("central:user:7", "crew on the way")]


async def test_a_failed_task_stops_the_agent_instead_of_running_half_alive(rig: Rig) -> None:
    pipeline = rig.agent.pipeline
    assert pipeline is not None

    def broken(samples: object) -> list[object]:
        raise RuntimeError("a bug in normalization")

    pipeline.process = broken  # type: ignore[method-assign,assignment]
    stop = asyncio.Event()  # never set: only the failure can end the wait
    async with asyncio.timeout(10):
        assert await rig.agent.wait(stop) is False
    assert rig.agent.failed.is_set()
