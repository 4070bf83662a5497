"""Limit alarms: HH, H, L, LL and rate of change, each an ISA-18.2 ``Alarm``.

A high limit's condition is ``value >= limit`` while the alarm is not active (so a dip below the
limit restarts an on-delay), and ``value >= limit - deadband`` while it is active: it clears only
once the value has passed back through ``limit - deadband`` (hse-standards.md §1.1 [A2][A14]),
and a value back inside the deadband during an off-delay cancels the pending clear. A low limit
mirrors it. So an alarm never raises below its limit nor clears inside its deadband. Rate of change is
``(value - previous) / (t - t_previous)`` between consecutive usable readings, on their source
times (§7 [A14]); ``roc`` alarms on either direction, ``roc_rise``/``roc_fall`` on one.

The hot path: while every alarm of the point is settled (no condition, not active) and the value
lies strictly between the innermost low and high limits, a reading costs two comparisons.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge_agent.records import ReadingRecord
from protocols.sync import EventCategory, Priority

from .alarm import Alarm
from .chain import Handler, PointState
from .config import PointAlarmSpec, RulesConfig, alarm_spec
from .events import Emitter

_INF = float("inf")


class PointLimits:
    """The limit alarms of one point."""

    __slots__ = (
        "deadband",
        "hi_trip",
        "highs",
        "lo_trip",
        "lows",
        "prev_t",
        "prev_v",
        "rocs",
        "settled",
        "state",
    )

    def __init__(self, state: PointState, spec: PointAlarmSpec, emitter: Emitter) -> None:
        self.state = state
        self.deadband = spec.deadband
        point = state.point
        highs: list[tuple[Alarm, float]] = []
        lows: list[tuple[Alarm, float]] = []
        rocs: list[tuple[Alarm, float, int]] = []
        for lim in spec.limits:
            alarm = _alarm(point.point_id, lim.name, lim.value, lim.priority.value, lim.latch,
                           lim.source, point.unit, spec, emitter)  # fmt: skip
            (highs if lim.name in ("h", "hh") else lows).append((alarm, lim.value))
        for lim in spec.rocs:
            alarm = _alarm(point.point_id, lim.name, lim.value, lim.priority.value, lim.latch,
                           lim.source, f"{point.unit}/s", spec, emitter)  # fmt: skip
            direction = {"roc": 0, "roc_rise": 1, "roc_fall": -1}[lim.name]
            rocs.append((alarm, lim.value, direction))
        self.highs = tuple(highs)
        self.lows = tuple(reversed(lows))  # l before ll, as h before hh: the milder first
        self.rocs = tuple(rocs)
        self.hi_trip = min((v for _, v in highs), default=_INF)
        self.lo_trip = max((v for _, v in lows), default=-_INF)
        self.settled = True
        self.prev_v: float | None = None
        self.prev_t = 0.0

    def alarms(self) -> list[Alarm]:
        return [a for a, _ in self.highs] + [a for a, _ in self.lows] + [a for a, _, _ in self.rocs]

    def observe(self, reading: ReadingRecord, now: float) -> None:
        st = self.state
        if not st.usable:
            return
        v = st.value
        assert v is not None
        if self.rocs:
            self._rate(v, reading.source_ts, now)
        if self.settled and self.lo_trip < v < self.hi_trip:
            return
        self._evaluate(v, now)

    def _evaluate(self, v: float, now: float) -> None:
        db = self.deadband
        settled = True
        for alarm, limit in self.highs:
            cond = v >= (limit - db if alarm.active else limit)
            alarm.evaluate(cond, v, now)
            if alarm.cond or alarm.active:
                settled = False
        for alarm, limit in self.lows:
            cond = v <= (limit + db if alarm.active else limit)
            alarm.evaluate(cond, v, now)
            if alarm.cond or alarm.active:
                settled = False
        self.settled = settled

    def _rate(self, v: float, t: float, now: float) -> None:
        prev_v, prev_t = self.prev_v, self.prev_t
        if prev_v is None or t > prev_t:
            self.prev_v, self.prev_t = v, t
        if prev_v is None or t <= prev_t:
            return  # first value, or a repeated / out-of-order timestamp: no rate
        rate = (v - prev_v) / (t - prev_t)
        for alarm, limit, direction in self.rocs:
            signed = rate if direction >= 0 else -rate
            cond = (abs(rate) if direction == 0 else signed) >= limit
            if cond or alarm.cond or alarm.active:
                alarm.evaluate(cond, rate, now)

    def tick(self, now: float) -> None:
        trusted = self.state.trusted
        for alarm, _ in self.highs:
            if not alarm.quiet:
                alarm.tick(now, trusted)
        for alarm, _ in self.lows:
            if not alarm.quiet:
                alarm.tick(now, trusted)
        for alarm, _, _ in self.rocs:
            if not alarm.quiet:
                alarm.tick(now, trusted)
        self.settled = all(not (a.cond or a.active) for a, _ in (*self.highs, *self.lows))


def _alarm(
    point_id: str,
    name: str,
    value: float,
    priority: str,
    latch: bool,
    source: str,
    unit: str,
    spec: PointAlarmSpec,
    emitter: Emitter,
) -> Alarm:
    return Alarm(
        f"{point_id}:{name}",
        point=point_id,
        kind=f"limit.{name}",
        category=EventCategory.ALARM,
        priority=Priority(priority),
        limit=value,
        unit=unit,
        emitter=emitter,
        latch=latch,
        on_delay_s=spec.on_delay_s,
        off_delay_s=spec.off_delay_s,
        re_alarm_s=spec.re_alarm_s,
        source=source,
    )


class LimitRule:
    """HH/H/L/LL and rate-of-change alarms of every point that has limits."""

    name = "limits"

    def __init__(self, config: RulesConfig, emitter: Emitter) -> None:
        self.config = config
        self.emitter = emitter
        self.points: list[PointLimits] = []

    def attach(self, state: PointState) -> Handler | None:
        _, rules = self.config.point_rules(state.point)
        spec = alarm_spec(state.point, rules, self.config.alarms)
        if not spec.limits and not spec.rocs:
            return None
        tracker = PointLimits(state, spec, self.emitter)
        self.points.append(tracker)
        return tracker.observe

    def tick(self, now: float) -> None:
        for tracker in self.points:
            tracker.tick(now)

    def alarms(self) -> Iterable[Alarm]:
        for tracker in self.points:
            yield from tracker.alarms()
