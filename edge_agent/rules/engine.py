"""The edge agent's local safety engine: readings and time in, events out. Pure: no I/O, no
clock, no randomness; the caller injects ``now`` (ARCHITECTURE.md §5, STYLE.md rule 10).

The rules are a visible list, run in order for each reading of a point (each rule attached to
the points it applies to, with precomputed per-point state):

    faults     -> is the value usable? (a point in fault feeds no rule below)
    limits     -> HH / H / L / LL / rate-of-change alarms (ISA-18.2 state machines)
    exposure   -> ceiling, 15-min STEL, shift TWA, noise dose against the limit set
    anomaly    -> robust running statistics
    trend      -> vibration downsampling (the fits run in ``tick``)

then the monitors look at the alarm events the call produced:

    chattering -> one alarm activating 3+ times in 60 s
    flood      -> more than 10 annunciated alarms in 10 min
    stale      -> an alarm active for more than 24 h (``tick`` only)

Timing: ``now`` (the agent's clock) drives every timer and stamps reading-driven events; the
exposure integrals, rates of change and trends run on each reading's ``source_ts`` (the time the
value describes). A ``now`` earlier than the last one is treated as the last one (and counted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from device_profiles import LimitSet
from device_profiles.loader import FieldProblem
from edge_agent.records import EventRecord, ReadingRecord

from .alarm import Alarm, AlarmAction
from .anomaly import AnomalyRule
from .chain import Handler, PointState, Rule
from .config import RulesConfig
from .errors import RulesConfigError, UnknownAlarmError
from .events import Emitter
from .exposure import ExposureRule
from .faults import BLOCKING, FaultRule
from .limits import LimitRule
from .nuisance import ChatteringMonitor, FloodMonitor, Monitor, StaleMonitor
from .points import RulePoint
from .shift import ShiftClock
from .snapshots import (
    AlarmSnapshot,
    AnomalySnapshot,
    ExposureSnapshot,
    FaultSnapshot,
    PredictionSnapshot,
    RulesStats,
)
from .trend import TrendRule

_LEVEL_KINDS = frozenset({"limit.hh", "limit.h", "limit.l", "limit.ll"})


class RuleEngine:
    """Limit alarms, exposure, sensor faults, anomalies and vibration trends for one plant."""

    def __init__(
        self,
        points: Sequence[RulePoint],
        config: RulesConfig,
        limit_set: LimitSet,
        *,
        plant_id: str,
    ) -> None:
        problems = config.validate_for(points)
        counts = Counter(p.point_id for p in points)
        for dupe in sorted(i for i, n in counts.items() if n > 1):
            problems.append(FieldProblem("points", dupe, "point id given more than once"))
        if problems:
            raise RulesConfigError(problems)
        self.plant_id = plant_id
        self.config = config
        self.limit_set = limit_set
        self.emitter = Emitter(plant_id)
        self.clock = ShiftClock(config.shift)
        zone = ZoneInfo(config.shift.timezone)
        self.fault_rule = FaultRule(config.faults, self.emitter, zone)
        self.limits = LimitRule(config, self.emitter)
        self.exposure_rule = ExposureRule(config, limit_set, self.clock, self.emitter)
        self.anomaly = AnomalyRule(config, self.emitter)
        self.trend = TrendRule(config, self.emitter)
        self.rules: list[Rule] = [
            self.fault_rule,
            self.limits,
            self.exposure_rule,
            self.anomaly,
            self.trend,
        ]
        self.states: dict[str, PointState] = {}
        self._chains: dict[str, tuple[Handler, ...]] = {}
        for point in points:
            state = PointState(point)
            self.states[point.point_id] = state
            handlers = [rule.attach(state) for rule in self.rules]
            self._chains[point.point_id] = tuple(h for h in handlers if h is not None)
        if self.exposure_rule.problems:
            raise RulesConfigError(self.exposure_rule.problems)
        self._alarms: dict[str, Alarm] = {a.alarm_id: a for r in self.rules for a in r.alarms()}
        self.chattering = ChatteringMonitor(config.alarms, self.emitter)
        self.flood = FloodMonitor(config.alarms, self.emitter)
        self.stale = StaleMonitor(config.alarms, self.emitter, self._alarms)
        self.monitors: list[Monitor] = [self.chattering, self.flood, self.stale]
        self._now: float | None = None
        self._readings = 0
        self._unknown = 0
        self._regressions = 0
        self._ticks = 0

    # -- inputs ----------------------------------------------------------------------------------

    def process(self, readings: Sequence[ReadingRecord], now: float) -> list[EventRecord]:
        """Run readings through the chain; returns the events they caused, in order."""
        now = self._advance(now)
        chains = self._chains
        for reading in readings:
            chain = chains.get(reading.point)
            if chain is None:
                self._unknown += 1
                continue
            for handler in chain:
                handler(reading, now)
        self._readings += len(readings)
        self._observe(now)
        return self.emitter.take()

    def tick(self, now: float) -> list[EventRecord]:
        """Time-driven transitions: on/off delays, shelve expiry, re-alarm, stale alarms, comm
        loss, calibration dates, shift ends, exposure projections, trend fits."""
        now = self._advance(now)
        self._ticks += 1
        for rule in self.rules:
            rule.tick(now)
        self._observe(now)
        for monitor in self.monitors:
            monitor.tick(now)
        return self.emitter.take()

    def command(
        self,
        action: AlarmAction | str,
        *,
        alarm_id: str,
        actor: str,
        now: float,
        reason: str = "",
        until: float | None = None,
    ) -> list[EventRecord]:
        """An operator's (or plant logic's) action on one alarm; raises ``AlarmActionError`` when
        the alarm's ISA-18.2 state does not allow it and ``UnknownAlarmError`` for an unknown id."""
        now = self._advance(now)
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            raise UnknownAlarmError(alarm_id, list(self._alarms))
        state = self.states.get(alarm.point) if alarm.point else None
        kept = alarm.value
        if state is not None and alarm.kind in _LEVEL_KINDS:
            # The fast path does not refresh a settled alarm's value; an action's event carries
            # the point's value now (none while it is in fault).
            alarm.value = state.value if state.condition == "ok" else None
        try:
            alarm.act(
                AlarmAction(action),
                actor=actor,
                now=now,
                reason=reason,
                until=until,
                max_shelve_s=self.config.alarms.max_shelve_s,
            )
        except Exception:
            alarm.value = kept  # a refused action changes nothing
            raise
        self._observe(now)
        return self.emitter.take()

    def _advance(self, now: float) -> float:
        last = self._now
        if last is not None and now < last:
            self._regressions += 1
            return last
        self._now = now
        return now

    def _observe(self, now: float) -> None:
        """Show the events produced so far in this call to the monitors (once each)."""
        events = self.emitter.events
        if events:
            produced = list(events)
            for monitor in self.monitors:
                monitor.observe(produced, now)

    # -- views ----------------------------------------------------------------------------------

    def alarm(self, alarm_id: str) -> AlarmSnapshot:
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            raise UnknownAlarmError(alarm_id, list(self._alarms))
        return self._snapshot(alarm)

    def alarms(self) -> list[AlarmSnapshot]:
        """Every alarm with its ISA state."""
        return [self._snapshot(a) for a in self._alarms.values()]

    def _snapshot(self, a: Alarm) -> AlarmSnapshot:
        state = self.states.get(a.point) if a.point else None
        if state is None or state.condition == "ok":
            condition = "abnormal" if a.cond else "normal"
        else:
            condition = state.condition
        value = state.value if state is not None and state.condition == "ok" else None
        evaluated = a.value if condition in ("normal", "abnormal") else None
        return AlarmSnapshot(
            alarm_id=a.alarm_id,
            point=a.point,
            kind=a.kind,
            category=a.category.value,
            priority=a.priority.value,
            state=a.state().value,
            base_state=a.base_state().value,
            active=a.active,
            acked=a.acked,
            latched=a.latched,
            shelved_until=a.shelved_until,
            suppressed=a.suppressed,
            out_of_service=a.out_of_service,
            annunciated=a.annunciated,
            limit=a.limit,
            unit=a.unit,
            value=value,
            evaluated_value=evaluated,
            condition=condition,
            activated_ts=a.activated_ts,
            activations=a.activations,
            chattering=a.alarm_id in self.chattering.chattering,
            stale=a.alarm_id in self.stale.stale,
            source=a.source,
        )

    def exposure(self) -> list[ExposureSnapshot]:
        """Running STEL / TWA / noise dose per point, each figure with its coverage."""
        return self.exposure_rule.snapshots()

    def faults_of(self, point_id: str) -> list[FaultSnapshot]:
        return [f for f in self.faults() if f.point == point_id]

    def faults(self) -> list[FaultSnapshot]:
        """Every active fault."""
        out = []
        for tracker in self.fault_rule.points:
            point = tracker.state.point
            for kind, (reason, since) in tracker.active.items():
                out.append(
                    FaultSnapshot(
                        point=point.point_id,
                        kind=kind,
                        reason=reason,
                        since=since,
                        blocking=kind in BLOCKING,
                        device_id=point.device_id,
                        device_serial=point.device_serial,
                    )
                )
        return out

    def anomalies(self) -> list[AnomalySnapshot]:
        return self.anomaly.snapshots()

    def predictions(self) -> list[PredictionSnapshot]:
        return self.trend.snapshots()

    def point_ids(self) -> list[str]:
        return list(self.states)

    def statistics(self) -> RulesStats:
        alarms = list(self._alarms.values())
        return RulesStats(
            readings=self._readings,
            readings_unknown_point=self._unknown,
            readings_not_usable=sum(t.unusable for t in self.fault_rule.points),
            exposure_out_of_order=sum(t.out_of_order for t in self.exposure_rule.trackers),
            clock_regressions=self._regressions,
            events=self.emitter.total,
            events_by_category=dict(self.emitter.by_category),
            alarms=len(alarms),
            alarms_active=sum(a.active for a in alarms),
            alarms_unacked=sum(not a.acked for a in alarms),
            alarms_shelved=sum(a.shelved_until is not None for a in alarms),
            alarms_suppressed=sum(a.suppressed for a in alarms),
            alarms_out_of_service=sum(a.out_of_service for a in alarms),
            alarm_activations=sum(a.activations for a in alarms),
            chattering_episodes=self.chattering.episodes,
            chattering_now=len(self.chattering.chattering),
            floods=self.flood.episodes,
            in_flood=self.flood.in_flood,
            stale_alarms=len(self.stale.stale),
            faults_active=sum(len(t.active) for t in self.fault_rule.points),
            anomalies_active=sum(p.active for p in self.anomaly.points),
            predictions_active=sum(p.active for p in self.trend.points),
            trend_fits=sum(p.fits for p in self.trend.points),
            ticks=self._ticks,
        )
