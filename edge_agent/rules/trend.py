"""Vibration trend and time to the ISO 10816-3 C/D boundary (category ``prediction``).

Readings of ``vibration.velocity_rms`` are downsampled to bucket means (hourly by default) on the
hot path; the fit runs in ``tick`` at most once per ``fit_interval_s`` per point, and only when a
new bucket closed since the last fit. hse-standards.md §6.2: fit both a linear ``y = a + b·t``
and an exponential ``y = a·e^(b·t)`` model (the exponential suits accelerating bearing wear),
take the earlier predicted crossing, and refuse to extrapolate from fewer than 5 points, with
R² < 0.8, or further ahead than ``max_extrapolation`` times the span of the data. R² is computed on the velocity itself for both models, so they compare fairly.

An event ``prediction.vibration_cd`` is raised when the C/D boundary (§6.1: group 2 rigid
4.5 mm/s by default) is predicted fewer than 7 days away, carrying the predicted time, the model,
R² and the confidence (§6.2 [V2]: > 0.95 high, 0.80-0.95 moderate); it clears when no reliable
fit predicts the crossing within the horizon any more.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from edge_agent.records import ReadingRecord
from protocols.sync import EventCategory, Priority

from .alarm import Alarm
from .chain import Handler, PointState
from .config import RulesConfig, TrendSettings
from .events import Emitter
from .snapshots import PredictionSnapshot

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Fit:
    model: str
    r2: float
    crossing_ts: dict[float, float | None]  # threshold -> when the model reaches it (None: never)


def fit_models(ts: np.ndarray, ys: np.ndarray, thresholds: Iterable[float]) -> list[Fit]:
    """Linear and (when every value is positive) exponential least-squares fits of ``ys`` over
    ``ts`` (POSIX s), with when each reaches each threshold (hse-standards.md §6.2)."""
    levels = list(thresholds)
    t0 = float(ts[0])
    days = (ts - t0) / DAY_S
    ss_tot = float(np.sum((ys - ys.mean()) ** 2))
    fits = []
    b, a = np.polyfit(days, ys, 1)
    fits.append(
        Fit(
            "linear",
            _r2(ys, a + b * days, ss_tot),
            {y: (t0 + (y - a) / b * DAY_S) if b > 0 else None for y in levels},
        )
    )
    if bool(np.all(ys > 0)):
        k, ln_a = np.polyfit(days, np.log(ys), 1)
        pred = np.exp(ln_a + k * days)
        fits.append(
            Fit(
                "exponential",
                _r2(ys, pred, ss_tot),
                {y: (t0 + (math.log(y) - ln_a) / k * DAY_S) if k > 0 else None for y in levels},
            )
        )
    return fits


def _r2(ys: np.ndarray, pred: np.ndarray, ss_tot: float) -> float:
    if ss_tot <= 0:
        return 0.0  # a flat series explains nothing
    return 1.0 - float(np.sum((ys - pred) ** 2)) / ss_tot


def confidence(r2: float) -> str:
    return "high" if r2 > 0.95 else "moderate"  # hse-standards.md §6.2 [V2]


class PointTrend:
    __slots__ = (
        "active",
        "bc",
        "bucket_end",
        "bucket_n",
        "bucket_sum",
        "bucket_tsum",
        "cd",
        "dirty",
        "emitter",
        "fits",
        "last",
        "means",
        "next_fit",
        "settings",
        "state",
    )

    def __init__(
        self, state: PointState, settings: TrendSettings, bc: float, cd: float, emitter: Emitter
    ) -> None:
        self.state = state
        self.settings = settings
        self.bc = bc
        self.cd = cd
        self.emitter = emitter
        self.bucket_end = -math.inf
        self.bucket_sum = 0.0
        self.bucket_tsum = 0.0
        self.bucket_n = 0
        self.means: deque[tuple[float, float]] = deque()  # (mean time, mean value)
        self.dirty = False
        self.next_fit = -math.inf
        self.active = False
        self.fits = 0
        self.last: PredictionSnapshot | None = None

    def observe(self, reading: ReadingRecord, now: float) -> None:
        st = self.state
        if not st.usable:
            return
        t = reading.source_ts
        if t >= self.bucket_end:
            self._close(t)
        self.bucket_sum += st.value  # type: ignore[operator]
        self.bucket_tsum += t
        self.bucket_n += 1

    def _close(self, t: float) -> None:
        n = self.bucket_n
        if n:
            self.means.append((self.bucket_tsum / n, self.bucket_sum / n))
            horizon = t - self.settings.window_s
            while self.means and self.means[0][0] < horizon:
                self.means.popleft()
            self.dirty = True
        size = self.settings.bucket_s
        self.bucket_end = (math.floor(t / size) + 1) * size
        self.bucket_sum = self.bucket_tsum = 0.0
        self.bucket_n = 0

    def tick(self, now: float) -> None:
        if now >= self.bucket_end and self.bucket_n:
            self._close(now)
        if not self.dirty or now < self.next_fit:
            return
        self.dirty = False
        self.next_fit = now + self.settings.fit_interval_s
        self._fit(now)

    def _fit(self, now: float) -> None:
        s = self.settings
        self.fits += 1
        n = len(self.means)
        refused: str | None = None
        best: tuple[float, Fit] | None = None
        bc_ts: float | None = None
        r2: float | None = None
        if n < s.min_points:
            refused = f"{n} points; at least {s.min_points} are needed"
        else:
            data = np.array(self.means, dtype=float)
            fits = fit_models(data[:, 0], data[:, 1], (self.bc, self.cd))
            r2 = max(f.r2 for f in fits)
            good = [f for f in fits if f.r2 >= s.min_r2]
            rising = [f for f in good if f.crossing_ts[self.cd] is not None]
            if not good:
                refused = f"poor fit: R² {r2:.2f} < {s.min_r2:g}"
            elif not rising:
                refused = "no rising trend"
            else:
                for f in rising:
                    when = max(f.crossing_ts[self.cd] or now, now)
                    if best is None or when < best[0]:
                        best = (when, f)
                assert best is not None
                bc_times = [max(f.crossing_ts[self.bc] or now, now) for f in rising]
                bc_ts = min(bc_times)
                span = float(data[-1, 0] - data[0, 0])
                if best[0] - now > s.max_extrapolation * span:
                    refused = (
                        f"{(best[0] - now) / DAY_S:.1f} days ahead is more than "
                        f"{s.max_extrapolation:g} × the {span / DAY_S:.1f} days of data"
                    )
                    best, bc_ts = None, None
        model = best[1] if best else None
        predicted = best[0] if best else None
        within = predicted is not None and predicted - now < s.horizon_s
        self.last = PredictionSnapshot(
            point=self.state.point_id,
            fitted_at=now,
            points=n,
            model=model.model if model else None,
            r2=model.r2 if model else r2,
            confidence=confidence(model.r2) if model else None,
            predicted_cd_ts=predicted,
            predicted_bc_ts=bc_ts,
            boundary_bc=self.bc,
            boundary_cd=self.cd,
            active=within,
            refused=refused,
        )
        if within and not self.active:
            self._emit("raise", now)
        elif self.active and not within:
            self._emit("clear", now)

    def _emit(self, transition: str, now: float) -> None:
        snap = self.last
        assert snap is not None
        self.active = transition == "raise"
        latest = self.means[-1][1] if self.means else None
        if transition == "raise":
            assert snap.predicted_cd_ts is not None
            assert snap.r2 is not None
            days = (snap.predicted_cd_ts - now) / DAY_S
            message = (
                f"vibration reaches zone C/D ({self.cd:g} mm/s) in {days:.1f} days "
                f"({snap.model}, R² {snap.r2:.2f}, {snap.confidence} confidence)"
            )
        else:
            message = (
                f"no reliable prediction of zone C/D within the horizon: {snap.refused or 'later'}"
            )
        self.emitter.emit(
            EventCategory.PREDICTION,
            "prediction.vibration_cd",
            transition,
            now,
            point=self.state.point_id,
            state="predicted" if self.active else "normal",
            priority=Priority.MEDIUM,
            value=latest,
            limit=self.cd,
            message=message,
            details={
                "predicted_ts": snap.predicted_cd_ts,
                "predicted_bc_ts": snap.predicted_bc_ts,
                "model": snap.model,
                "r2": snap.r2,
                "confidence": snap.confidence,
                "points": snap.points,
                "boundary_bc": self.bc,
                "boundary_cd": self.cd,
                "refused": snap.refused,
            },
        )

    def snapshot(self) -> PredictionSnapshot:
        if self.last is not None:
            return self.last
        return PredictionSnapshot(
            self.state.point_id, None, len(self.means), None, None, None, None, None,
            self.bc, self.cd, False, "not fitted yet",
        )  # fmt: skip


class TrendRule:
    name = "trend"

    def __init__(self, config: RulesConfig, emitter: Emitter) -> None:
        self.config = config
        self.settings = config.trend
        self.emitter = emitter
        self.points: list[PointTrend] = []

    def attach(self, state: PointState) -> Handler | None:
        if not self.settings.enabled or state.point.quantity not in self.settings.quantities:
            return None
        _, rules = self.config.point_rules(state.point)
        bc, cd = (rules.machine or self.settings.machine).boundaries()
        tracker = PointTrend(state, self.settings, bc, cd, self.emitter)
        self.points.append(tracker)
        return tracker.observe

    def tick(self, now: float) -> None:
        for tracker in self.points:
            tracker.tick(now)

    def alarms(self) -> Iterable[Alarm]:
        return ()

    def snapshots(self) -> list[PredictionSnapshot]:
        return [p.snapshot() for p in self.points]
