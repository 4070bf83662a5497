"""Sensor and communication faults (hse-standards.md §8), and what a point in fault shows."""

from __future__ import annotations

from datetime import date

from edge_agent.rules import FaultSettings, RulesConfig
from protocols.types import Quality
from tests.unit.rules_kit import Harness, gas_point, kinds, only

U = Quality.UNCERTAIN


def test_ne43_loop_failure_is_a_fault_and_holds_the_alarms() -> None:
    h = Harness()
    h.value(12)  # H active
    events = h.value(None, reason="ne43.fail_low.pending", quality=U)
    assert events == [], "still inside NE 43's 4 s persistence (the quality stage times it)"
    events = h.value(None, reason="ne43.fail_low", quality=Quality.BAD)
    assert [(e.kind, e.transition, e.details["reason"]) for e in events] == [
        ("fault.ne43", "raise", "ne43.fail_low")
    ]
    assert events[0].priority is not None
    assert events[0].priority.value == "high"
    snap = h.engine.alarm("demo/gd-1/h2s:h")
    assert (snap.state, snap.condition, snap.value) == ("active_unacked", "fault", None)
    (fault,) = h.engine.faults()
    assert (fault.kind, fault.blocking) == ("fault.ne43", True)
    # failing high instead: the reason changed, so the fault is told again
    assert kinds(h.value(None, reason="ne43.fail_high", quality=Quality.BAD)) == [
        ("fault.ne43", "clear"),
        ("fault.ne43", "raise"),
    ]
    events = h.value(3.0)  # repaired: the value is evaluated again and clears H
    assert kinds(events) == [("fault.ne43", "clear"), ("limit.h", "clear")]
    assert h.engine.faults() == []


def test_a_stuck_value_never_clears_an_alarm() -> None:
    # A sensor stuck at 0.3 ppm while H2S is at 12: the flatline flag makes its value unusable.
    h = Harness([gas_point(interval_s=600)])
    h.value(12)
    events = h.value(0.3, reason="flatline", quality=U)
    assert kinds(events) == [("fault.flatline", "raise")]
    assert h.values([0.3] * 20, reason="flatline", quality=U) == []
    snap = h.engine.alarm("demo/gd-1/h2s:h")
    assert (snap.state, snap.condition, snap.value) == ("active_unacked", "fault", None)
    assert kinds(h.tick(60)) == [], "time alone changes nothing"
    events = h.value(2.0)
    assert kinds(events) == [("fault.flatline", "clear"), ("limit.h", "clear")]


def test_out_of_range_is_a_fault_that_still_alarms() -> None:
    h = Harness()
    events = h.value(130.0, reason="range.over", quality=U)
    assert kinds(events) == [("fault.range", "raise"), ("limit.h", "raise"), ("limit.hh", "raise")]
    assert h.engine.faults()[0].blocking is False
    events = h.value(-2.0, reason="range.under", quality=U)
    assert ("fault.range", "clear") in kinds(events)
    assert ("fault.range", "raise") in kinds(events)
    assert kinds(only(h.value(1.0), "fault.")) == [("fault.range", "clear")]


def test_frequent_spikes_raise_one_fault() -> None:
    config = RulesConfig(faults=FaultSettings(spike_count=3, spike_window_s=60))
    h = Harness([gas_point(interval_s=60)], config)
    h.value(0.3, dt=0)
    assert h.value(5.0, dt=10, reason="spike", quality=U) == []  # t = 10 s
    assert h.value(5.0, dt=10, reason="spike", quality=U) == []  # t = 20 s
    events = h.value(5.0, dt=10, reason="spike", quality=U)  # t = 30 s: 3 within 60 s
    assert [(e.kind, e.transition) for e in events] == [("fault.spikes", "raise")]
    assert h.value(5.0, dt=1, reason="spike", quality=U) == [], "raised once per episode"
    assert h.engine.faults()[0].blocking is False
    assert kinds(h.tick(48)) == []  # t = 79 s: spikes at 20, 30, 31 s are within the minute
    assert kinds(h.tick(1)) == [("fault.spikes", "clear")]  # t = 80 s: only 30 and 31 s


def test_comm_loss_needs_more_than_three_polls_without_an_answer() -> None:
    # §8.3 [Q3][Q4]: no update for > 3 poll periods. Polled every 10 s.
    h = Harness([gas_point(interval_s=10)])
    h.value(1.0, dt=10)
    assert h.values([None] * 3, dt=10, reason="modbus.timeout") == []
    events = h.value(None, dt=1, reason="modbus.timeout")  # 31 s since the last answer
    assert [(e.kind, e.transition, e.details["reason"]) for e in events] == [
        ("fault.comm", "raise", "modbus.timeout")
    ]
    assert h.values([None] * 5, dt=10, reason="modbus.timeout") == [], "raised once"
    assert kinds(h.value(1.0)) == [("fault.comm", "clear")]


def test_silence_is_a_comm_fault_found_in_tick() -> None:
    h = Harness([gas_point(interval_s=10)])
    h.value(1.0)
    assert h.tick(30) == []
    events = h.tick(0.5)
    assert [(e.kind, e.transition, e.details["reason"]) for e in events] == [
        ("fault.comm", "raise", "no_data")
    ]
    assert h.engine.alarm("demo/gd-1/h2s:h").condition == "fault"
    assert h.tick(100) == []


def test_a_point_that_never_answers_is_found_too() -> None:
    h = Harness([gas_point(interval_s=10)])
    assert h.tick(0) == []  # the engine's first moment
    assert kinds(h.tick(31)) == [("fault.comm", "raise")]


def test_other_bad_readings_are_sensor_faults() -> None:
    h = Harness()
    events = h.value(None, reason="opcua.BadSensorFailure")
    assert [(e.kind, e.details["reason"]) for e in events] == [
        ("fault.sensor", "opcua.BadSensorFailure")
    ]
    assert kinds(h.value(1.0)) == [("fault.sensor", "clear")]


def test_calibration_and_bump_test_dates() -> None:
    # due on 2026-01-05 (T0's day): overdue from 2026-01-06 00:00 in the plant's time zone
    point = gas_point(
        interval_s=10**6, calibration_due=date(2026, 1, 5), bump_test_due=date(2026, 1, 20)
    )
    h = Harness([point])
    assert h.tick(0) == []
    assert h.tick(18 * 3600 - 1) == []  # 23:59:59 on the due day
    events = h.tick(1)
    assert [(e.kind, e.transition, e.point) for e in events] == [
        ("fault.calibration", "raise", "demo/gd-1/h2s")
    ]
    assert h.tick(3600) == [], "raised once"
    assert h.engine.faults()[0].blocking is False, "an overdue detector still alarms"
    assert kinds(h.tick(15 * 86400)) == [("fault.bump_test", "raise")]
    assert h.engine.statistics().faults_active == 2


def test_fault_events_name_the_device() -> None:
    point = gas_point(device_id="gd-1", device_serial="SN-0042")
    h = Harness([point])
    (event,) = h.value(None, reason="decode.nan")
    assert event.details["device_id"] == "gd-1"
    assert event.details["device_serial"] == "SN-0042"
    assert event.ts == h.t


def test_bad_values_are_counted_as_not_usable() -> None:
    h = Harness()
    h.values([None, None], reason="modbus.timeout")
    h.value(1.0)
    h.value(1.0, reason="flatline", quality=U)
    stats = h.engine.statistics()
    assert (stats.readings, stats.readings_not_usable) == (4, 3)


def test_an_overdue_point_still_gets_every_other_fault() -> None:
    h = Harness([gas_point(interval_s=10**6, calibration_due=date(2026, 1, 1))])
    assert kinds(h.tick(0)) == [("fault.calibration", "raise")]
    assert kinds(h.value(1.0, reason="flatline", quality=U)) == [("fault.flatline", "raise")]
    assert kinds(h.value(1.5)) == [("fault.flatline", "clear")]
    assert kinds(h.value(12.0)) == [("limit.h", "raise")]
    assert [f.kind for f in h.engine.faults()] == ["fault.calibration"]
