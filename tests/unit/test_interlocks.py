"""Interlock decisions and PLC writes, with the shipped FakeDriver (edge_agent.interlocks)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

import pytest

from device_profiles import DeviceEntry, DeviceProfile, resolve_device
from edge_agent.interlocks import (
    BadgeEvent,
    InterlockEngine,
    InterlocksConfig,
    NotAllowedError,
    PlcWriter,
)
from edge_agent.records import EventRecord
from protocols import ConnectError, FakeDriver, WriteError

PLC_PROFILE = DeviceProfile.model_validate(
    {
        "id": "plc-test",
        "manufacturer": "test",
        "model": "plc",
        "kind": "safety_plc",
        "protocol": "modbus",
        "points": [
            {
                "id": "fan",
                "quantity": "status",
                "unit": "1",
                "modbus": {"table": "coil", "address": 0, "type": "bool"},
            },
            {
                "id": "door",
                "quantity": "status",
                "unit": "1",
                "modbus": {"table": "coil", "address": 1, "type": "bool"},
            },
            {
                "id": "heartbeat",
                "quantity": "status",
                "unit": "1",
                "modbus": {"table": "holding", "address": 0},
            },
            {
                "id": "spare",
                "quantity": "status",
                "unit": "1",
                "modbus": {"table": "coil", "address": 7, "type": "bool"},
            },
        ],
    }
)
PLC = resolve_device(
    DeviceEntry(id="plc-1", profile="plc-test", url="modbus+tcp://127.0.0.1:1"), PLC_PROFILE
)
H2S = "p1/gas-1/h2s"


@dataclass
class View:
    """A stand-in for the rules engine's state (the SafetyView protocol)."""

    active: set[str] = field(default_factory=set)
    faulted: set[str] = field(default_factory=set)
    exceeded: set[tuple[str, str]] = field(default_factory=set)
    zones: set[str] = field(default_factory=set)

    def alarm_active(self, ref: str) -> bool:
        return ref in self.active or any(a.startswith(ref + ":") for a in self.active)

    def point_faulted(self, point: str) -> bool:
        return point in self.faulted

    def exposure_exceeded(self, point: str, kind: str) -> bool:
        return (point, kind) in self.exceeded or (
            kind == "any" and any(p == point for p, _ in self.exceeded)
        )

    def zone_alarm(self, zone: str, quantity: str | None, min_priority: str) -> bool:
        return zone in self.zones


def make_config(**extra: object) -> InterlocksConfig:
    data: dict[str, object] = {
        "outputs": [
            {"plc": "plc-1", "point": "fan", "safe": 1},
            {"plc": "plc-1", "point": "door", "safe": 1},
        ],
        "min_write_interval_s": 0.0,
        "rules": [
            {
                "id": "vent",
                "when": {"any": [{"alarm": f"{H2S}:hh"}, {"exposure": H2S, "kind": "stel"}]},
                "then": {"plc": "plc-1", "point": "fan", "value": 1},
                "otherwise": 0,
            }
        ],
    }
    data.update(extra)
    return InterlocksConfig.model_validate(data)


class Harness:
    def __init__(self, config: InterlocksConfig, driver: FakeDriver | None = None) -> None:
        self.events: list[EventRecord] = []
        self.driver = driver or FakeDriver("modbus+tcp://127.0.0.1:1")
        self.writer = PlcWriter(
            PLC,
            config,
            self.events.append,
            plant_id="p1",
            driver_factory=lambda *a, **k: self.driver,
        )
        self.engine = InterlockEngine(config, {"plc-1": self.writer}, plant_id="p1",
                                      qualifications=lambda: self.quals)  # fmt: skip
        self.quals: dict[str, dict[str, date]] = {}

    async def settle(self, key: str, value: object, timeout_s: float = 2.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.driver.values.get(key) != value:
                await asyncio.sleep(0.005)


async def run_writer(h: Harness) -> asyncio.Task[None]:
    return asyncio.create_task(h.writer.run(), name="writer")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_alarm_trips_the_fan_and_its_clear_resets_it() -> None:
    h = Harness(make_config())
    task = await run_writer(h)
    view = View()
    assert h.engine.evaluate(view, 1.0) == []
    await h.settle("fan", 0)
    view.active.add(f"{H2S}:hh")
    events = h.engine.evaluate(view, 2.0)
    assert [(e.kind, e.transition) for e in events] == [("interlock.vent", "trip")]
    await h.settle("fan", 1)
    view.active.clear()
    assert [e.transition for e in h.engine.evaluate(view, 3.0)] == ["reset"]
    await h.settle("fan", 0)
    await stop(task)
    writes = [e for e in h.events if e.transition == "write"]
    assert [e.value for e in writes] == [0.0, 1.0, 0.0]  # every verified write is an event


async def test_exposure_condition_also_trips() -> None:
    h = Harness(make_config())
    task = await run_writer(h)
    h.engine.evaluate(View(exceeded={(H2S, "stel")}), 1.0)
    await h.settle("fan", 1)
    await stop(task)


async def test_lost_inputs_drive_the_fail_safe_value() -> None:
    h = Harness(make_config())
    task = await run_writer(h)
    view = View()
    h.engine.evaluate(view, 1.0)
    await h.settle("fan", 0)
    view.faulted.add(H2S)  # the gas point went bad: the rule cannot see the gas any more
    events = h.engine.evaluate(view, 2.0)
    assert [e.transition for e in events] == ["input_loss"]
    await h.settle("fan", 1)  # the output's declared safe value
    view.faulted.clear()
    assert [e.transition for e in h.engine.evaluate(view, 3.0)] == ["input_back"]
    await h.settle("fan", 0)
    await stop(task)


async def test_the_safe_value_wins_when_rules_disagree() -> None:
    config = make_config(
        rules=[
            {
                "id": "a",
                "when": {"alarm": f"{H2S}:h"},
                "then": {"plc": "plc-1", "point": "fan", "value": 1},
                "otherwise": 0,
            },
            {
                "id": "b",
                "when": {"alarm": f"{H2S}:hh"},
                "then": {"plc": "plc-1", "point": "fan", "value": 1},
                "otherwise": 0,
            },
        ]
    )
    h = Harness(config)
    task = await run_writer(h)
    h.engine.evaluate(View(active={f"{H2S}:hh"}), 1.0)  # a says 0, b says 1 (safe): 1
    await h.settle("fan", 1)
    await stop(task)


def test_writes_outside_the_allowlist_are_refused() -> None:
    h = Harness(make_config())
    with pytest.raises(NotAllowedError, match="'spare' is not an allowed interlock output"):
        h.writer.request("spare", 1, "test")


async def test_a_failed_write_is_retried_then_reported_and_the_driver_error_never_escapes() -> None:
    class Refusing(FakeDriver):
        async def write(self, point: object, value: object) -> None:
            raise WriteError("device refused (exception 04)")

    h = Harness(make_config(write_retries=1), Refusing("modbus+tcp://127.0.0.1:1"))
    task = await run_writer(h)
    h.engine.evaluate(View(active={f"{H2S}:hh"}), 1.0)
    async with asyncio.timeout(3):
        while not any(e.transition == "write_failed" for e in h.events):
            await asyncio.sleep(0.01)
    failed = next(e for e in h.events if e.transition == "write_failed")
    assert "failed after 2 attempt(s)" in failed.message
    assert "exception 04" in failed.message
    assert h.writer.outputs()[0].failures >= 1
    await stop(task)


async def test_read_back_mismatch_counts_as_a_failure() -> None:
    class Forgetful(FakeDriver):
        async def write(self, point: object, value: object) -> None:
            self.writes.append(
                (getattr(point, "key", str(point)), value)
            )  # accepted but not applied

    h = Harness(make_config(write_retries=0), Forgetful("modbus+tcp://127.0.0.1:1"))
    h.driver.set("fan", 0)
    task = await run_writer(h)
    h.engine.evaluate(View(active={f"{H2S}:hh"}), 1.0)
    async with asyncio.timeout(3):
        while not any(e.transition == "write_failed" for e in h.events):
            await asyncio.sleep(0.01)
    assert "read-back gave 0" in next(e for e in h.events if e.transition == "write_failed").message
    await stop(task)


async def test_rate_limit_holds_back_moves_away_from_safe_but_never_towards_it() -> None:
    h = Harness(make_config(min_write_interval_s=30.0))
    task = await run_writer(h)
    view = View(active={f"{H2S}:hh"})
    h.engine.evaluate(view, 1.0)
    await h.settle("fan", 1)  # towards safe: at once
    view.active.clear()
    h.engine.evaluate(view, 2.0)  # away from safe (0) within 30 s: held back
    await asyncio.sleep(0.1)
    assert h.driver.values["fan"] == 1
    assert h.writer.stats.rate_limited >= 1
    view.active.add(f"{H2S}:hh")
    h.engine.evaluate(view, 3.0)
    await asyncio.sleep(0.05)
    assert h.driver.values["fan"] == 1
    await stop(task)


async def test_heartbeat_register_keeps_changing() -> None:
    h = Harness(make_config(heartbeat={"plc": "plc-1", "point": "heartbeat", "interval_s": 0.02}))
    task = await run_writer(h)
    seen: set[object] = set()
    async with asyncio.timeout(2):
        while len(seen) < 3:
            if "heartbeat" in h.driver.values:
                seen.add(h.driver.values["heartbeat"])
            await asyncio.sleep(0.01)
    await stop(task)
    assert h.writer.stats.heartbeats >= 3


async def test_unreachable_plc_does_not_crash_the_writer() -> None:
    driver = FakeDriver("modbus+tcp://127.0.0.1:1")
    driver.fail_next(ConnectError("refused"))
    h = Harness(make_config(), driver)
    task = await run_writer(h)
    h.engine.evaluate(View(active={f"{H2S}:hh"}), 1.0)
    await h.settle("fan", 1)
    await stop(task)


async def test_unqualified_person_badging_into_a_zone_in_alarm_is_denied() -> None:
    config = make_config(
        badge_topic="p1/badges",
        badge_broker="mqtt://127.0.0.1:1883",
        access=[
            {"zone": "zone-a", "qualification": "h2s-training",
             "when": {"zone_alarm": {"zone": "zone-a", "quantity": "gas.h2s"}},
             "deny": {"plc": "plc-1", "point": "door", "value": 1}}
        ]
    )  # fmt: skip
    h = Harness(config)
    h.quals = {"P-1": {"h2s-training": date(2020, 1, 1)}, "P-2": {"h2s-training": date(2099, 1, 1)}}
    task = await run_writer(h)
    in_alarm, quiet = View(zones={"zone-a"}), View()
    ts = 1_800_000_000.0
    assert (
        h.engine.on_badge(BadgeEvent("P-1", "zone-a", ts), quiet, ts) == []
    )  # zone is fine: no check
    assert h.engine.on_badge(BadgeEvent("P-2", "zone-a", ts), in_alarm, ts) == []  # qualified
    assert h.engine.on_badge(BadgeEvent("P-1", "zone-b", ts), in_alarm, ts) == []  # another zone
    events = h.engine.on_badge(BadgeEvent("P-1", "zone-a", ts), in_alarm, ts)
    assert [(e.kind, e.transition) for e in events] == [("access.denied", "raise")]
    assert "expired (2020-01-01) h2s-training" in events[0].message
    await h.settle("door", 1)
    unknown = h.engine.on_badge(BadgeEvent("P-9", "zone-a", ts), in_alarm, ts)
    assert "has no record of h2s-training" in unknown[0].message
    await stop(task)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"rules": [{"id": "x", "when": {"alarmz": "a"}, "then": {"plc": "p", "point": "q", "value": 1}}]},
         "exactly one of"),
        ({"rules": [{"id": "x", "when": {"alarm": "a"}, "then": {"plc": "p", "point": "q", "value": 1}}] * 2},
         "must be unique"),
        ({"outputs": [{"plc": "p", "point": "q", "safe": 1}] * 2}, "listed twice"),
        ({"badge_topic": "p/badges"}, "go together"),
        ({"badge_topic": "p/badges", "badge_broker": "http://x"}, "must be an mqtt://"),
        ({"access": [{"zone": "z", "qualification": "q", "when": {"alarm": "a"},
                      "deny": {"plc": "p", "point": "d", "value": 1}}]}, "need badge reads"),
    ],
)  # fmt: skip
def test_bad_interlock_config_is_refused(bad: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InterlocksConfig.model_validate(bad)
