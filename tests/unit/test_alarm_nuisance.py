"""Chattering, flood and stale alarms (hse-standards.md §1.3), reported as events and counted."""

from __future__ import annotations

from edge_agent.rules import AlarmSettings, RulesConfig
from tests.unit.rules_kit import Harness, gas_point, kinds, only


def test_three_activations_within_a_minute_is_chattering() -> None:
    # §1.3 [A7]: 3 or more activations within 1 min.
    h = Harness([gas_point(interval_s=60)])
    events = h.values([12, 5, 12, 5], dt=10)  # activations at t = 10 s and 30 s
    assert only(events, "alarm.") == []
    events = h.value(12, dt=10)  # third activation at t = 50 s
    chatter = only(events, "alarm.chattering")
    assert [(e.transition, e.point, e.details["alarm_id"]) for e in chatter] == [
        ("raise", "demo/gd-1/h2s", "demo/gd-1/h2s:h")
    ]
    assert chatter[0].details["activations"] == 3
    assert h.engine.alarm("demo/gd-1/h2s:h").chattering
    # more activations in the same episode do not raise it again
    assert only(h.values([5, 12], dt=5), "alarm.") == []
    stats = h.engine.statistics()
    assert (stats.chattering_episodes, stats.chattering_now) == (1, 1)
    # activations at t = 10, 30, 50, 60 s; at t = 90 s only two are within the last minute
    assert only(h.tick(29), "alarm.chattering") == []  # t = 89 s: 30, 50, 60 remain
    assert kinds(only(h.tick(1), "alarm.chattering")) == [("alarm.chattering", "clear")]
    assert h.engine.statistics().chattering_now == 0


def test_activations_spread_over_more_than_a_minute_are_not_chattering() -> None:
    h = Harness([gas_point(interval_s=60)])
    events = h.values([12, 5, 12, 5, 12, 5, 12], dt=25)  # activations 50 s apart
    assert only(events, "alarm.") == []
    assert h.engine.statistics().chattering_episodes == 0


def _points(n: int) -> list:  # type: ignore[type-arg]
    return [gas_point(f"demo/gd-{i}/h2s", interval_s=3600) for i in range(n)]


def test_more_than_ten_alarms_in_ten_minutes_is_a_flood() -> None:
    # §1.3 [A5][A6][A8]: a flood is more than 10 alarms in 10 minutes.
    points = _points(12)
    h = Harness(points)
    for p in points[:10]:
        assert only(h.value(12, dt=30, point=p), "alarm.flood") == []
    events = h.value(12, dt=30, point=points[10])  # the 11th within 5.5 min
    flood = only(events, "alarm.flood")
    assert [(e.category.value, e.transition, e.details["alarms_in_window"]) for e in flood] == [
        ("system", "raise", 11)
    ]
    assert h.engine.statistics().in_flood
    assert only(h.value(12, dt=1, point=points[11]), "alarm.flood") == [], "raised once"
    # the window empties as time passes; the flood ends at 5 or fewer in the last 10 min
    assert only(h.tick(300), "alarm.flood") == []  # t = 10.5 min: 10 still inside the window
    events = only(h.tick(180), "alarm.flood")  # t = 13.5 min: activations from 4 min on remain
    assert [(e.transition, e.details["alarms_in_window"]) for e in events] == [("clear", 5)]
    stats = h.engine.statistics()
    assert (stats.floods, stats.in_flood) == (1, False)


def test_ten_alarms_in_ten_minutes_is_not_a_flood() -> None:
    points = _points(10)
    h = Harness(points)
    for p in points:
        h.value(12, dt=30, point=p)
    assert h.engine.statistics().floods == 0


def test_shelved_alarms_do_not_count_towards_a_flood() -> None:
    points = _points(11)
    h = Harness(points)
    h.act("shelve", f"{points[0].point_id}:h", reason="known", until_s=3600)
    for p in points:
        h.value(12, dt=10, point=p)
    assert h.engine.statistics().floods == 0


def test_an_alarm_active_for_a_day_is_stale() -> None:
    # §1.3 [A12][A11]: stale = still active beyond 24 h.
    config = RulesConfig(alarms=AlarmSettings(stale_after_s=24 * 3600))
    h = Harness([gas_point(interval_s=7200)], config)
    h.value(12)
    for _ in range(11):
        h.value(12, dt=7200)  # 22 h
    assert only(h.tick(7199), "alarm.stale") == []  # 23 h 59 min 59 s
    h.value(12, dt=1)  # 24 h
    events = only(h.tick(), "alarm.stale")
    assert [(e.transition, e.details["alarm_id"]) for e in events] == [("raise", "demo/gd-1/h2s:h")]
    assert only(h.tick(60), "alarm.stale") == [], "raised once"
    assert h.engine.alarm("demo/gd-1/h2s:h").stale
    h.value(5)
    assert kinds(only(h.tick(), "alarm.stale")) == [("alarm.stale", "clear")]
