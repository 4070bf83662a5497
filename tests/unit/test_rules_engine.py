"""The engine as a whole: the chain, determinism, snapshots and statistics."""

from __future__ import annotations

import json

from edge_agent.rules import RuleEngine, RulePoint, RulesConfig
from tests.unit.rules_kit import T0, Harness, gas_point, h2s_limit_set, reading


def two_points() -> list[RulePoint]:
    return [
        gas_point(),
        RulePoint(
            point_id="demo/pt-1/p",
            quantity="pressure",
            unit="kPa",
            range=(0, 1000),
            expected_interval_s=1,
        ),
    ]


def test_the_chain_is_a_visible_list_in_order() -> None:
    engine = RuleEngine(two_points(), RulesConfig(), h2s_limit_set(), plant_id="demo")
    assert [r.name for r in engine.rules] == ["faults", "limits", "exposure", "anomaly", "trend"]
    assert [m.name for m in engine.monitors] == ["chattering", "flood", "stale"]


def test_alarms_lists_every_alarm_with_a_stable_id() -> None:
    h = Harness(two_points(), limit_set=h2s_limit_set())
    ids = sorted(a.alarm_id for a in h.engine.alarms())
    assert ids == [
        "demo/gd-1/h2s:h",
        "demo/gd-1/h2s:hh",
        "demo/gd-1/h2s:stel",
        "demo/gd-1/h2s:stel_excursions",  # the ACGIH excursion rule (ackable, shelvable)
        "demo/gd-1/h2s:twa",
        "demo/gd-1/h2s:twa_projection",
    ]
    h.value(12)
    snap = h.engine.alarm("demo/gd-1/h2s:h")
    assert (snap.state, snap.annunciated, snap.value, snap.condition) == (
        "active_unacked",
        True,
        12,
        "abnormal",
    )
    assert snap.priority == "high"
    json.dumps(snap.as_dict())  # the status API serialises it as is


def test_unknown_points_are_counted_not_fatal() -> None:
    engine = RuleEngine([gas_point()], RulesConfig(), h2s_limit_set(), plant_id="demo")
    assert engine.process([reading("demo/gd-9/h2s", 50.0, T0)], T0) == []
    stats = engine.statistics()
    assert (stats.readings, stats.readings_unknown_point) == (1, 1)


def test_a_clock_that_goes_back_does_not_move_time_back() -> None:
    h = Harness()
    h.value(12)
    h.act("ack", dt=10)
    later = h.t
    out = h.engine.process([reading(h.point, 5.0, later - 100)], later - 100)
    assert [e.ts for e in out] == [later], "stamped with the latest time the engine has seen"
    assert h.engine.statistics().clock_regressions == 1


def test_same_inputs_same_events_including_ids() -> None:
    def run() -> list[object]:
        h = Harness(two_points(), limit_set=h2s_limit_set())
        for i in range(200):
            h.value((i % 40) * 0.6)
            h.value(500 + (i % 7) * 60, point=h.points[1], dt=0)
            if i % 10 == 0:
                h.tick(0)
            if i == 50:
                h.act("ack", "h")
        return [e.event_id for e in h.events] + [e.details for e in h.events]

    first = run()
    assert len(first) > 10
    assert first == run()


def test_statistics_count_what_happened() -> None:
    h = Harness(two_points(), limit_set=h2s_limit_set())
    h.values([12, 25, 5])
    h.act("ack", "h")
    h.value(None, reason="modbus.timeout")
    stats = h.engine.statistics()
    assert stats.readings == 4
    assert stats.readings_not_usable == 1
    assert stats.alarms == 6  # H, HH, STEL, STEL excursions, TWA, TWA projection
    assert stats.alarm_activations == 2
    assert stats.alarms_unacked == 1  # HH latched, unacked
    assert stats.events == len(h.events)
    assert stats.events_by_category["alarm"] == 5  # h raise, hh raise, h clear, hh clear, ack


def test_exposure_snapshot_only_for_points_with_limits() -> None:
    h = Harness(two_points(), limit_set=h2s_limit_set())
    h.value(1.0)
    (snap,) = h.engine.exposure()
    assert snap.point == "demo/gd-1/h2s"
    assert [f.name for f in snap.figures] == ["stel", "twa"]
    json.dumps(snap.as_dict())


def test_events_of_one_call_come_back_in_order_once() -> None:
    h = Harness()
    events = h.engine.process(
        [reading(h.point, 12.0, T0 + 1), reading(h.point, 25.0, T0 + 2)], T0 + 2
    )
    assert [(e.kind, e.transition) for e in events] == [
        ("limit.h", "raise"),
        ("limit.hh", "raise"),
    ]
    assert h.engine.tick(T0 + 2) == []
