"""Table tests of the ISA-18.2 alarm state machine (hse-standards.md §1.1), through the engine.

The point under test (``rules_kit.gas_point``): H = 10 ppm (not latched), HH = 20 ppm (latched),
deadband 1 ppm. Each state A-F is reached by real readings and actions, then every action is
tried in it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge_agent.rules import AlarmAction, AlarmActionError, UnknownAlarmError
from tests.unit.rules_kit import Harness, gas_point, kinds, only

A, B, C, D, E, F = (
    "normal",
    "active_unacked",
    "active_acked",
    "rtn_unacked",
    "latched_unacked",
    "latched_acked",
)


def in_a(h: Harness) -> str:
    return "h"


def in_b(h: Harness) -> str:
    h.value(12)
    return "h"


def in_c(h: Harness) -> str:
    h.value(12)
    h.act("ack", "h")
    return "h"


def in_d(h: Harness) -> str:
    h.values([12, 5])
    return "h"


def in_e(h: Harness) -> str:
    h.values([25, 5])
    return "hh"


def in_f(h: Harness) -> str:
    h.values([25, 5])
    h.act("ack", "hh")
    return "hh"


SETUPS: dict[str, Callable[[Harness], str]] = {
    A: in_a,
    B: in_b,
    C: in_c,
    D: in_d,
    E: in_e,
    F: in_f,
}


@pytest.mark.parametrize("state", list(SETUPS))
def test_each_setup_reaches_its_state(state: str) -> None:
    h = Harness()
    alarm = SETUPS[state](h)
    assert h.state(alarm) == state


# ack: B -> C, D -> A, E -> F; refused where already acknowledged (A, C, F).
ACK = {A: None, B: C, C: None, D: A, E: F, F: None}
# reset: only F -> A; E must be acknowledged first; others are not latched.
RESET = {A: None, B: None, C: None, D: None, E: None, F: A}
# shelve acks an unacked alarm and resets a latch (§1.1 G [A1][A4]): the base state after.
SHELVE_BASE = {A: A, B: C, C: C, D: A, E: A, F: A}


@pytest.mark.parametrize("state", list(SETUPS))
def test_ack_in_each_state(state: str) -> None:
    h = Harness()
    alarm = SETUPS[state](h)
    before = len(h.events)
    if ACK[state] is None:
        with pytest.raises(AlarmActionError, match="already acknowledged"):
            h.act("ack", alarm)
        assert len(h.events) == before, "a refused action emits nothing"
        assert h.state(alarm) == state
    else:
        events = h.act("ack", alarm)
        assert [(e.transition, e.state, e.actor) for e in events] == [("ack", ACK[state], "op.li")]
        assert h.state(alarm) == ACK[state]


@pytest.mark.parametrize("state", list(SETUPS))
def test_reset_in_each_state(state: str) -> None:
    h = Harness()
    alarm = SETUPS[state](h)
    if RESET[state] is None:
        expected = "acknowledged before reset" if state == E else "only a latched alarm"
        with pytest.raises(AlarmActionError, match=expected):
            h.act("reset", alarm)
        assert h.state(alarm) == state
    else:
        events = h.act("reset", alarm)
        assert [(e.transition, e.state) for e in events] == [("reset", RESET[state])]


@pytest.mark.parametrize("state", list(SETUPS))
def test_shelve_in_each_state(state: str) -> None:
    h = Harness()
    alarm = SETUPS[state](h)
    events = h.act("shelve", alarm, reason="sensor being replaced", until_s=600)
    assert len(events) == 1
    event = events[0]
    assert (event.transition, event.state) == ("shelve", "shelved")
    assert event.details["base"] == SHELVE_BASE[state]
    assert event.details["annunciated"] is False
    assert event.details["latched"] is False
    snap = h.engine.alarm(f"{h.point.point_id}:{alarm}")
    assert snap.shelved_until == h.t + 600
    assert not snap.annunciated


def test_shelve_expires_in_tick_and_the_alarm_annunciates_again() -> None:
    h = Harness()
    h.value(12)
    h.act("shelve", reason="known issue", until_s=300)
    assert only(h.tick(299)) == []
    events = only(h.tick(1))
    assert [(e.transition, e.state, e.actor) for e in events] == [("unshelve", C, None)]
    assert events[0].details["reason"] == "shelving expired"
    assert h.engine.alarm(f"{h.point.point_id}:h").annunciated


def test_a_shelved_alarm_is_still_evaluated_but_not_annunciated() -> None:
    # OPC UA Part 9 [A1]: shelving hides, it does not disable.
    h = Harness()
    h.act("shelve", reason="maintenance", until_s=3600)
    events = h.value(12)
    assert [(e.kind, e.transition, e.state) for e in events] == [("limit.h", "raise", "shelved")]
    assert events[0].details["base"] == B
    assert events[0].details["annunciated"] is False
    h.act("unshelve")
    assert h.state() == B


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        (in_a, {"until_s": None, "reason": "x"}, "needs an expiry"),
        (in_a, {"until_s": -5, "reason": "x"}, "needs an expiry"),
        (in_a, {"until_s": 9 * 3600, "reason": "x"}, "limited to 28800 s"),
        (in_a, {"until_s": 60, "reason": ""}, "needs a reason"),
    ],
)
def test_shelve_is_refused_without_a_valid_expiry_and_reason(
    setup: Callable[[Harness], str], kwargs: dict[str, object], message: str
) -> None:
    h = Harness()
    setup(h)
    with pytest.raises(AlarmActionError, match=message):
        h.act("shelve", **kwargs)  # type: ignore[arg-type]
    assert h.state() == A


def test_shelve_twice_unshelve_unshelved_and_shelve_out_of_service_are_refused() -> None:
    h = Harness()
    with pytest.raises(AlarmActionError, match="not shelved"):
        h.act("unshelve")
    h.act("shelve", reason="r", until_s=60)
    with pytest.raises(AlarmActionError, match="already shelved"):
        h.act("shelve", reason="r", until_s=60)
    h.act("unshelve")
    h.act("out_of_service", reason="detector removed for repair")
    with pytest.raises(AlarmActionError, match="out of service"):
        h.act("shelve", reason="r", until_s=60)


def test_suppress_and_unsuppress_keep_evaluating() -> None:
    h = Harness()
    assert [e.state for e in h.act("suppress", actor="logic:maintenance-mode")] == ["suppressed"]
    events = h.values([12, 5])
    assert [(e.transition, e.state) for e in events] == [
        ("raise", "suppressed"),
        ("clear", "suppressed"),
    ]
    assert h.base() == D
    with pytest.raises(AlarmActionError, match="already suppressed"):
        h.act("suppress")
    assert [e.state for e in h.act("unsuppress")] == [D]
    with pytest.raises(AlarmActionError, match="not suppressed"):
        h.act("unsuppress")


def test_out_of_service_needs_a_reason_and_returns_to_its_base_state() -> None:
    h = Harness()
    h.value(12)
    with pytest.raises(AlarmActionError, match="needs a reason"):
        h.act("out_of_service")
    events = h.act("out_of_service", reason="permit 4711: detector replaced")
    assert [(e.transition, e.state) for e in events] == [("out_of_service", "out_of_service")]
    assert not h.engine.alarm(f"{h.point.point_id}:h").annunciated
    h.value(5)  # still evaluated while out of service
    assert h.base() == D
    assert [e.state for e in h.act("return_to_service")] == [D]
    with pytest.raises(AlarmActionError, match="not out of service"):
        h.act("return_to_service")


def test_every_action_needs_an_actor() -> None:
    h = Harness()
    h.value(12)
    with pytest.raises(AlarmActionError, match="actor is required"):
        h.act("ack", actor="")


def test_an_unknown_alarm_id_is_refused_by_name() -> None:
    h = Harness()
    with pytest.raises(UnknownAlarmError, match=r"demo/gd-1/h2s:hhh.*known ids include"):
        h.act("ack", "demo/gd-1/h2s:hhh")
    with pytest.raises(ValueError, match="not a valid AlarmAction"):
        h.act("silence")


# -- latch ------------------------------------------------------------------------------------


def test_latched_alarm_stays_until_acked_and_reset() -> None:
    h = Harness()
    h.value(25)
    assert h.state("hh") == B
    h.value(5)
    assert h.state("hh") == E
    h.tick(3600)
    assert h.state("hh") == E, "time alone never unlatches"
    h.act("ack", "hh")
    assert h.state("hh") == F
    h.act("reset", "hh")
    assert h.state("hh") == A


def test_a_latched_alarm_that_becomes_active_again_is_unacked_active() -> None:
    h = Harness()
    h.values([25, 5])
    h.act("ack", "hh")
    h.value(25)
    assert h.state("hh") == B
    h.act("ack", "hh")
    h.value(5)
    assert h.state("hh") == F


def test_reset_refused_while_the_condition_is_active() -> None:
    h = Harness()
    h.value(25)
    h.act("ack", "hh")
    with pytest.raises(AlarmActionError, match="only a latched alarm"):
        h.act("reset", "hh")


# -- deadband ---------------------------------------------------------------------------------


def test_deadband_high_limit_raise_and_clear_points() -> None:
    # H = 10, deadband 1: raise at >= 10; clear only below 10 - 1 = 9 (§1.1 [A2][A14]).
    h = Harness()
    assert h.value(9.99) == []
    assert kinds(h.value(10.0)) == [("limit.h", "raise")]
    assert h.values([9.5, 9.0, 9.9, 9.01]) == [], "inside [9, 10) the alarm holds"
    events = h.value(8.99)
    assert kinds(events) == [("limit.h", "clear")]
    assert events[0].value == 8.99
    assert events[0].limit == 10.0


def test_deadband_low_limit_mirrors() -> None:
    # L = 19.5 %vol O2-style low alarm, deadband 0.5: raise at <= 19.5, clear above 20.0.
    point = gas_point(h=None, hh=None, l=19.5, ll=18.0, deadband=0.5)
    h = Harness([point])
    assert h.value(19.6) == []
    assert kinds(h.value(19.5)) == [("limit.l", "raise")]
    assert h.values([19.9, 20.0]) == []
    assert kinds(h.value(20.01)) == [("limit.l", "clear")]
    assert kinds(h.value(17.0)) == [("limit.l", "raise"), ("limit.ll", "raise")]


# -- delays -----------------------------------------------------------------------------------


def test_on_delay_the_condition_must_persist() -> None:
    h = Harness([gas_point(on_delay_s=5)])
    assert h.values([12, 12, 12, 12]) == []  # t = 1..4: persisted 0..3 s
    assert h.value(5) == []  # dips: the on-delay restarts
    assert h.values([12] * 5) == []  # t = 6..10: persisted 0..4 s
    events = h.value(12)  # t = 11: persisted 5 s
    assert kinds(events) == [("limit.h", "raise")]


def test_on_delay_completes_in_tick_without_a_new_reading() -> None:
    h = Harness([gas_point(on_delay_s=5, interval_s=10)])
    h.value(12)
    assert h.tick(4.9) == []
    assert kinds(h.tick(0.1)) == [("limit.h", "raise")]


def test_a_pending_transition_waits_while_the_point_is_in_fault() -> None:
    # Polled every second: silent for more than 3 s is a comm fault (§8.3), and then nobody
    # knows whether the condition persisted, so the on-delay cannot complete on time alone.
    h = Harness([gas_point(on_delay_s=5, interval_s=1)])
    h.value(12)
    assert kinds(h.tick(3.5)) == [("fault.comm", "raise")]
    assert h.tick(10) == []
    assert h.state() == A
    events = h.value(12)  # a value confirms the condition (persisting since the first 12)
    assert kinds(events) == [("fault.comm", "clear"), ("limit.h", "raise")]


def test_off_delay_holds_the_alarm_and_a_return_into_the_deadband_cancels_it() -> None:
    h = Harness([gas_point(off_delay_s=10, interval_s=30)])
    h.value(12)
    assert h.value(5) == []  # below 9: a clear is pending for 10 s
    assert h.tick(2) == []
    assert h.value(9.5) == [], "back inside the deadband: the condition is active again"
    assert h.tick(2) == []
    assert h.value(9.5, dt=1) == []
    assert h.tick(2) == []
    assert h.state() == B
    h.value(5)
    assert only(h.tick(9.9)) == []
    events = only(h.tick(0.1))
    assert kinds(events) == [("limit.h", "clear")]
    assert events[0].value == 5


# -- rate of change ---------------------------------------------------------------------------


def test_rate_of_change_either_direction() -> None:
    # ROC = (current - previous) / (t - t_previous) (§1.1 [A14]); limit 5 ppm/s.
    h = Harness([gas_point(h=None, hh=None, roc=5.0)])
    h.value(0)
    assert h.value(4) == []  # 4 ppm/s
    events = h.value(10)  # 6 ppm/s
    assert [(e.kind, e.transition, e.value, e.limit) for e in events] == [
        ("limit.roc", "raise", 6.0, 5.0)
    ]
    assert kinds(h.value(11)) == [("limit.roc", "clear")]
    assert kinds(h.value(0, dt=2.0)) == [("limit.roc", "raise")], "-5.5 ppm/s counts too"


def test_separate_rising_and_falling_rate_limits() -> None:
    from device_profiles import Limit
    from edge_agent.rules import AlarmOverride, PointRules, RulesConfig

    config = RulesConfig(
        points={
            "gd-1/h2s": PointRules(
                alarms=AlarmOverride(
                    roc_rise_per_s=Limit(value=2.0), roc_fall_per_s=Limit(value=8.0)
                )
            )
        }
    )
    h = Harness([gas_point(h=None, hh=None)], config)
    h.value(0)
    assert kinds(h.value(3)) == [("limit.roc_rise", "raise")]
    assert kinds(h.value(0)) == [("limit.roc_rise", "clear")], "-3/s is below the fall limit"
    assert h.value(10, dt=10) == []  # +1 ppm/s
    assert kinds(h.value(1)) == [("limit.roc_fall", "raise")]


# -- re-alarm ---------------------------------------------------------------------------------


def test_re_alarm_returns_a_long_acknowledged_alarm_to_unacked() -> None:
    from edge_agent.rules import AlarmSettings, RulesConfig

    h = Harness(config=RulesConfig(alarms=AlarmSettings(re_alarm_s=600)))
    h.value(12)
    h.act("ack", dt=10)
    assert only(h.tick(599)) == []
    events = only(h.tick(1))
    assert [(e.transition, e.state) for e in events] == [("re_alarm", B)]


# -- events carry the transition's data -------------------------------------------------------


def test_a_raise_event_carries_priority_value_limit_and_the_full_state() -> None:
    h = Harness()
    (event,) = h.value(12)
    assert event.category.value == "alarm"
    assert event.kind == "limit.h"
    assert event.point == "demo/gd-1/h2s"
    assert event.priority is not None
    assert event.priority.value == "high"
    assert (event.value, event.limit, event.ts) == (12, 10.0, h.t)
    assert event.details["alarm_id"] == "demo/gd-1/h2s:h"
    assert event.details["annunciated"] is True
    assert len(event.event_id) == 32


def test_bad_readings_are_not_evaluated_uncertain_ones_are() -> None:
    from protocols.types import Quality

    h = Harness()
    assert h.value(None, reason="modbus.timeout") == []
    # over the measuring range: UNCERTAIN, the value kept; it must alarm
    events = h.value(120.0, reason="range.over", quality=Quality.UNCERTAIN)
    assert ("limit.h", "raise") in kinds(events)
    assert ("limit.hh", "raise") in kinds(events)
    assert ("fault.range", "raise") in kinds(events)


def test_action_strings_and_enum_are_both_accepted() -> None:
    h = Harness()
    h.value(12)
    h.act(AlarmAction.ACK)
    assert h.state() == C
