"""Unusual values per point, from robust running statistics (category ``anomaly``).

Each point keeps an exponentially weighted mean and mean absolute deviation (the EWMA form of
median/MAD). A value further than ``k`` deviations from the mean is unusual; unusual values do not
update the statistics, so a fault or an excursion cannot teach the baseline that it is normal.
``raise_after`` unusual values in a row raise one ``anomaly.value`` event and ``clear_after``
usual ones clear it: one event per episode, never one per sample. A change that lasts longer than
``relearn_after_s`` is the new normal: the statistics restart from it and the episode clears.

The deviation has a floor (the sensor's resolution, or a fraction of its measuring range), so a
perfectly quiet signal does not call its first least-significant-bit step an anomaly.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge_agent.records import ReadingRecord
from protocols.sync import EventCategory, Priority

from .alarm import Alarm
from .chain import Handler, PointState
from .config import AnomalySettings, RulesConfig
from .events import Emitter
from .snapshots import AnomalySnapshot


class PointAnomaly:
    __slots__ = (
        "active",
        "alpha",
        "bad_run",
        "clear_after",
        "emitter",
        "floor",
        "good_run",
        "k",
        "mad",
        "mean",
        "n",
        "raise_after",
        "relearn_s",
        "since",
        "state",
        "warmup",
    )

    def __init__(self, state: PointState, settings: AnomalySettings, emitter: Emitter) -> None:
        point = state.point
        self.state = state
        self.emitter = emitter
        self.alpha = 2.0 / (settings.window_samples + 1)
        self.k = settings.k
        self.warmup = settings.warmup_samples
        self.raise_after = settings.raise_after
        self.clear_after = settings.clear_after
        self.relearn_s = settings.relearn_after_s
        span = (point.range[1] - point.range[0]) if point.range else 0.0
        self.floor = max(point.resolution or 0.0, settings.scale_floor_fraction * span, 1e-9)
        self.n = 0
        self.mean = 0.0
        self.mad = 0.0
        self.bad_run = 0
        self.good_run = 0
        self.active = False
        self.since = 0.0

    def observe(self, reading: ReadingRecord, now: float) -> None:
        st = self.state
        if not st.usable:
            return
        v = st.value
        assert v is not None
        dev = v - self.mean
        n = self.n
        if n < self.warmup:
            # Learning: the running mean of the first values, then the EWMA takes over.
            a = 1.0 / (n + 1) if 1.0 / (n + 1) > self.alpha else self.alpha
            self.mean += a * dev
            if n:
                self.mad += a * ((dev if dev >= 0 else -dev) - self.mad)
            self.n = n + 1
            return
        mad = self.mad if self.mad > self.floor else self.floor
        adev = dev if dev >= 0 else -dev
        if adev <= self.k * mad:
            self.bad_run = 0
            self.n = n + 1
            a = self.alpha
            self.mean += a * dev
            self.mad += a * (adev - self.mad)
            if self.active:
                self.good_run += 1
                if self.good_run >= self.clear_after:
                    self._emit("clear", v, now, "back within the usual range")
            return
        self._unusual(v, dev, mad, now)

    def _unusual(self, v: float, dev: float, mad: float, now: float) -> None:
        self.good_run = 0
        self.bad_run += 1
        if not self.active:
            if self.bad_run >= self.raise_after:
                self._emit("raise", v, now, f"{abs(dev) / mad:.1f} deviations from the mean")
            return
        if now - self.since >= self.relearn_s:
            self._emit("clear", v, now, f"lasting change for {self.relearn_s:g} s: relearned")
            self.mean = v
            self.mad = max(self.mad, abs(dev) / self.k)
            self.bad_run = 0

    def _emit(self, transition: str, v: float, now: float, note: str) -> None:
        mad = self.mad if self.mad > self.floor else self.floor
        bound = self.mean + (self.k * mad if v >= self.mean else -self.k * mad)
        self.emitter.emit(
            EventCategory.ANOMALY,
            "anomaly.value",
            transition,
            now,
            point=self.state.point_id,
            state="anomalous" if transition == "raise" else "normal",
            priority=Priority.LOW,
            value=v,
            limit=bound,
            message=f"anomaly {transition}: {v:g} {self.state.point.unit}, {note}",
            details={"mean": self.mean, "scale": mad, "k": self.k, "reason": note},
        )
        self.active = transition == "raise"
        self.since = now
        self.good_run = 0

    def snapshot(self) -> AnomalySnapshot:
        ready = self.n >= self.warmup
        return AnomalySnapshot(
            point=self.state.point_id,
            active=self.active,
            since=self.since if self.active else None,
            mean=self.mean if ready else None,
            scale=max(self.mad, self.floor) if ready else None,
            samples=self.n,
        )


class AnomalyRule:
    name = "anomaly"

    def __init__(self, config: RulesConfig, emitter: Emitter) -> None:
        self.config = config
        self.settings = config.anomaly
        self.emitter = emitter
        self.points: list[PointAnomaly] = []

    def attach(self, state: PointState) -> Handler | None:
        _, rules = self.config.point_rules(state.point)
        if not (self.settings.enabled and rules.anomaly) or state.point.quantity == "status":
            return None
        tracker = PointAnomaly(state, self.settings, self.emitter)
        self.points.append(tracker)
        return tracker.observe

    def tick(self, now: float) -> None:
        return None

    def alarms(self) -> Iterable[Alarm]:
        return ()

    def snapshots(self) -> list[AnomalySnapshot]:
        return [p.snapshot() for p in self.points]
