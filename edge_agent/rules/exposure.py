"""Exposure against the plant's limit set: ceiling, rolling STEL, shift TWA, noise dose.

Per point with a limit (hse-standards.md §3, §4, §5):

- **ceiling / MAC**: every instantaneous value against the ceiling (``exposure.ceiling``); where
  the set allows a peak above it (OSHA H2S: 50 ppm for at most 10 min once a shift, §2.1), a
  peak within the allowance is ``exposure.peak`` and the ceiling alarm waits for the allowance
  to be broken;
- **STEL**: the 15-min time-weighted mean of a sliding window, evaluated at every sample
  (``exposure.stel``); excursions above it are counted for the ACGIH rule [T8] (at most 4 a
  shift, at least 60 min apart; ``exposure.stel_excursions`` when a shift breaks it);
- **TWA**: ``D / 8 h`` over the current shift (``exposure.twa``), for gases and dust; for a
  shift longer than 8 h also the worst 8 h of it (OSHA's practice, §3 [T2]), as a figure;
- **noise**: ISO 9612 LEX,8h (3 dB exchange) or the OSHA dose (5 dB exchange, 80 dB threshold)
  by the limit set's regime or the config's (``exposure.noise_dose``, ``exposure.noise_action``,
  and ``exposure.noise_upper_action`` where the set has an upper action value: EU 85 dB(A));
- **projection** (in ``tick``): the dose so far plus the rest of the shift at the recent
  (15-min) mean; a warning when that ends above the limit (``exposure.twa_projection``,
  ``exposure.noise_dose_projection``).

Each is an ISA-18.2 ``Alarm`` (ackable, shelvable) of category ``exposure``. The STEL and TWA
alarms compare the zero-filled figure, a lower bound: when it exceeds, the limit is exceeded
whatever the gaps held. At the end of each shift one ``exposure.shift`` ``report`` event carries
the shift's figures with their coverage (only for a shift with sampled time).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from device_profiles import LimitSet, LimitValue, UnitError
from device_profiles.limits import NoiseLimits, NoiseRegime
from device_profiles.loader import FieldProblem
from edge_agent.records import ReadingRecord
from protocols.sync import EventCategory, Priority

from .alarm import Alarm
from .chain import Handler, PointState
from .config import ExposureSettings, RulesConfig
from .dose import LOG10_2, Window
from .events import Emitter
from .shift import Shift, ShiftClock
from .snapshots import ExposureFigure, ExposureSnapshot

_NEG_INF = -math.inf


class Mode(enum.IntEnum):
    GAS = 0  # concentration (gases, dust)
    ISO = 1  # x = 10^(0.1·L): ISO 9612 energy
    OSHA = 2  # x = 2^((L - criterion)/exchange) above the threshold: OSHA dose rate


@dataclass(frozen=True, slots=True)
class NoiseParams:
    regime: NoiseRegime
    criterion_db: float
    exchange_db: float
    threshold_db: float
    action_db: float | None
    source: str
    upper_action_db: float | None = None  # EU 2003/10/EC: 85 dB(A), hearing protection worn


# Defaults when the config picks a regime the limit set does not carry:
# OSHA 29 CFR 1910.95: 90 dB(A), 5 dB exchange, 80 dB threshold, action 85 dB(A) (§4 [N1][N2][N8]);
# ISO 9612 with GBZ 2.2-2007's 85 dB(A) LEX,8h and 3 dB exchange (§4 [N5][N6]).
_REGIME_DEFAULTS = {
    NoiseRegime.OSHA: NoiseParams(NoiseRegime.OSHA, 90.0, 5.0, 80.0, 85.0, "29 CFR 1910.95"),
    NoiseRegime.ISO_9612: NoiseParams(
        NoiseRegime.ISO_9612, 85.0, 3.0, 0.0, None, "ISO 9612 / GBZ 2.2"
    ),
}


def noise_params(limits: NoiseLimits | None, settings: ExposureSettings) -> NoiseParams | None:
    """The plant's noise rules: the limit set's, with the config's overrides on top."""
    over = settings.noise
    if limits is None and (over is None or over.regime is None):
        return None
    if limits is not None and (over is None or over.regime in (None, limits.regime)):
        base = NoiseParams(
            limits.regime,
            limits.criterion_db,
            limits.exchange_db,
            limits.threshold_db,
            limits.action_db,
            limits.source,
            limits.upper_action_db,
        )
    else:
        assert over is not None
        assert over.regime is not None
        base = _REGIME_DEFAULTS[over.regime]
    if over is None:
        return base
    return NoiseParams(
        base.regime,
        over.criterion_db if over.criterion_db is not None else base.criterion_db,
        over.exchange_db if over.exchange_db is not None else base.exchange_db,
        over.threshold_db if over.threshold_db is not None else base.threshold_db,
        over.action_db if over.action_db is not None else base.action_db,
        base.source,
        over.upper_action_db if over.upper_action_db is not None else base.upper_action_db,
    )


@dataclass(frozen=True, slots=True)
class Peak:
    """A peak allowance above the ceiling, in the point's unit (device_profiles.PeakAllowance)."""

    value: float
    max_s: float
    per_shift: int


class ExposureTracker:
    """Running exposure of one point over its current shift and the sliding window."""

    __slots__ = (
        "action_alarm",
        "action_dose",
        "averages",
        "ceiling",
        "ceiling_alarm",
        "clock",
        "covered",
        "dose",
        "dose_alarm",
        "dose_limit",
        "emitter",
        "excursion_alarm",
        "excursion_max",
        "excursion_spacing_s",
        "excursions",
        "held_from",
        "last_t",
        "max_gap_s",
        "max_v",
        "min_coverage",
        "minute_cov",
        "minute_dose",
        "mode",
        "noise",
        "out_of_order",
        "peak",
        "peak_alarm",
        "peak_from",
        "peaks",
        "prev_t",
        "prev_x",
        "projected",
        "projection_alarm",
        "reference_s",
        "shift",
        "state",
        "stel_alarm",
        "stel_limit",
        "twa_limit",
        "upper_action_alarm",
        "upper_action_dose",
        "window",
    )

    def __init__(
        self,
        state: PointState,
        *,
        mode: Mode,
        noise: NoiseParams | None,
        ceiling: float | None,
        stel_limit: float | None,
        twa_limit: float | None,
        settings: ExposureSettings,
        clock: ShiftClock,
        emitter: Emitter,
        peak: Peak | None = None,
    ) -> None:
        point = state.point
        self.state = state
        self.mode = mode
        self.noise = noise
        self.clock = clock
        self.emitter = emitter
        self.reference_s = settings.twa_reference_h * 3600.0
        interval = point.expected_interval_s
        # Report by exception: a value holds until the next one (a lost link ends it with bad samples).
        self.max_gap_s = math.inf if interval is None else settings.max_gap_intervals * interval
        self.min_coverage = settings.min_coverage
        self.window = Window(settings.stel_window_s)
        # Averages of a peak level (dB(C) peak) mean nothing: such a point has a ceiling only.
        self.averages = point.quantity != "noise.lcpeak"
        self.ceiling = ceiling
        self.stel_limit = stel_limit
        self.twa_limit = twa_limit
        pri = settings.priorities
        pid, unit = point.point_id, point.unit

        def alarm(name: str, limit: float | None, priority: str, unit_: str = unit) -> Alarm:
            return Alarm(
                f"{pid}:{name}",
                point=pid,
                kind=f"exposure.{name}",
                category=EventCategory.EXPOSURE,
                priority=Priority(priority),
                limit=limit,
                unit=unit_,
                emitter=emitter,
            )

        self.ceiling_alarm = alarm("ceiling", ceiling, pri.ceiling) if ceiling is not None else None
        # With a peak allowance (OSHA H2S), the ceiling alarm waits for the allowance to be
        # broken; a peak within it is its own alarm (exposure.peak).
        self.peak = peak if ceiling is not None else None
        self.peak_alarm = alarm("peak", ceiling, pri.peak) if self.peak is not None else None
        self.peak_from: float | None = None
        self.peaks = 0
        self.stel_alarm = alarm("stel", stel_limit, pri.stel) if stel_limit is not None else None
        self.excursion_max = settings.stel_excursions_per_shift
        self.excursion_spacing_s = settings.stel_excursion_spacing_s
        self.excursion_alarm = (
            alarm("stel_excursions", float(self.excursion_max), pri.stel_excursions, "excursions")
            if stel_limit is not None and self.excursion_max is not None
            else None
        )
        self.dose_alarm: Alarm | None = None
        self.action_alarm: Alarm | None = None
        self.upper_action_alarm: Alarm | None = None
        self.projection_alarm: Alarm | None = None
        self.dose_limit = math.inf  # in dose units (x·s)
        self.action_dose = math.inf
        self.upper_action_dose = math.inf
        if mode is Mode.GAS and twa_limit is not None:
            self.dose_limit = twa_limit * self.reference_s
            self.dose_alarm = alarm("twa", twa_limit, pri.twa)
            self.projection_alarm = alarm("twa_projection", twa_limit, pri.projection)
        elif noise is not None and mode is not Mode.GAS:
            self.dose_limit = self._dose_at_db(noise.criterion_db)
            self.dose_alarm = alarm("noise_dose", noise.criterion_db, pri.noise_dose)
            self.projection_alarm = alarm(
                "noise_dose_projection", noise.criterion_db, pri.projection
            )
            if noise.action_db is not None:
                self.action_dose = self._dose_at_db(noise.action_db)
                self.action_alarm = alarm("noise_action", noise.action_db, pri.noise_action)
            if noise.upper_action_db is not None:
                self.upper_action_dose = self._dose_at_db(noise.upper_action_db)
                self.upper_action_alarm = alarm(
                    "noise_upper_action", noise.upper_action_db, pri.noise_upper_action
                )
        self.shift = Shift(0.0, 0.0, False)
        # Per-minute dose and coverage, kept only for shifts longer than the 8-h reference, for
        # OSHA's "worst 8 h" of a long shift (hse-standards.md §3 [T2][T3][T4]).
        self.minute_dose: list[float] | None = None
        self.minute_cov: list[float] | None = None
        self.dose = 0.0
        self.covered = 0.0
        self.max_v = _NEG_INF
        self.excursions: list[float] = []
        self.prev_t: float | None = None
        self.prev_x = 0.0
        self.held_from = 0.0
        self.last_t: float | None = None
        self.projected: float | None = None
        self.out_of_order = 0

    def alarms(self) -> list[Alarm]:
        alarms = (
            self.ceiling_alarm,
            self.peak_alarm,
            self.stel_alarm,
            self.excursion_alarm,
            self.dose_alarm,
            self.action_alarm,
            self.upper_action_alarm,
            self.projection_alarm,
        )
        return [a for a in alarms if a is not None]

    # -- transforms between values, dose and the figures people read --------------------------

    def _x(self, v: float) -> float:
        mode = self.mode
        if mode is Mode.GAS:
            return v
        noise = self.noise
        assert noise is not None
        if mode is Mode.ISO:
            return math.pow(10.0, 0.1 * v)
        if v < noise.threshold_db:
            return 0.0
        return math.pow(2.0, (v - noise.criterion_db) / noise.exchange_db)

    def _dose_at_db(self, level_db: float) -> float:
        """The dose (x·s) of a reference period spent at ``level_db``."""
        noise = self.noise
        assert noise is not None
        if self.mode is Mode.ISO:
            return self.reference_s * math.pow(10.0, 0.1 * level_db)
        return self.reference_s * math.pow(2.0, (level_db - noise.criterion_db) / noise.exchange_db)

    def headline(self, dose: float) -> float:
        """The figure compared with the limit: TWA (unit of the point) or the level in dB(A)."""
        if self.mode is Mode.GAS:
            return dose / self.reference_s
        noise = self.noise
        assert noise is not None
        if dose <= 0:
            return _NEG_INF
        if self.mode is Mode.ISO:
            return 10.0 * math.log10(dose / self.reference_s)  # LEX,8h
        return noise.criterion_db + noise.exchange_db / LOG10_2 * math.log10(
            dose / self.reference_s
        )

    def dose_pct(self, dose: float) -> float:
        """Noise dose in % of the criterion's (100 % = the criterion level for 8 h)."""
        return 100.0 * dose / self._dose_at_db(self.noise.criterion_db) if self.noise else math.nan

    # -- the hot path --------------------------------------------------------------------------

    def observe(self, reading: ReadingRecord, now: float) -> None:
        st = self.state
        t = reading.source_ts
        if not st.usable:
            prev = self.prev_t
            if prev is not None:  # the held value ends where the point stopped being usable
                end = min(t, prev + self.max_gap_s)
                if end > self.held_from:
                    self._add(self.held_from, end, self.prev_x, now)
                self.prev_t = None
            return
        v = st.value
        assert v is not None
        prev = self.prev_t
        if prev is not None:
            if t < prev:
                self.out_of_order += 1
                return
            end = t if t - prev <= self.max_gap_s else prev + self.max_gap_s
            if end > self.held_from:
                self._add(self.held_from, end, self.prev_x, now)
        if t >= self.shift.end:
            self._roll(t, now)
        x = v if self.mode is Mode.GAS else self._x(v)
        self.prev_t = self.held_from = self.last_t = t
        self.prev_x = x
        if v > self.max_v and self.shift.on:
            self.max_v = v
        a = self.ceiling_alarm
        if a is not None:
            cond = v > self.ceiling  # type: ignore[operator]
            if self.peak is not None:
                cond = self._beyond_peak(cond, t, v, now)
            if cond or a.cond or a.active:
                a.evaluate(cond, v, now)
        a = self.stel_alarm
        if a is not None:
            integral, _ = self.window.at(t)
            stel = integral / self.window.length_s
            cond = stel > self.stel_limit  # type: ignore[operator]
            if cond or a.cond or a.active:
                was = a.active
                a.evaluate(cond, stel, now)
                if a.active and not was:
                    self._excursion(t, now)
        a = self.dose_alarm
        if a is not None:
            cond = self.dose > self.dose_limit
            if cond or a.cond or a.active:
                a.evaluate(cond, _finite(self.headline(self.dose)), now)
            for a, level in (
                (self.action_alarm, self.action_dose),
                (self.upper_action_alarm, self.upper_action_dose),
            ):
                if a is not None:
                    cond = self.dose > level
                    if cond or a.cond or a.active:
                        a.evaluate(cond, _finite(self.headline(self.dose)), now)

    def _beyond_peak(self, above: bool, t: float, v: float, now: float) -> bool:
        """Track peaks above the ceiling; True when this one breaks the allowance: higher than
        the peak value, longer than allowed, or one too many this shift."""
        peak = self.peak
        assert peak is not None
        pa = self.peak_alarm
        assert pa is not None
        if not above:
            self.peak_from = None
        elif self.peak_from is None:
            self.peak_from = t
            self.peaks += 1
        if above or pa.cond or pa.active:
            pa.evaluate(above, v, now)
        return above and (
            v > peak.value
            or t - self.peak_from > peak.max_s  # type: ignore[operator]
            or self.peaks > peak.per_shift
        )

    def _excursion(self, t: float, now: float) -> None:
        """Count a STEL excursion; too many in the shift, or too close to the previous one,
        raises ``exposure.stel_excursions`` until the shift ends (§3 [T8])."""
        self.excursions.append(t)
        a = self.excursion_alarm
        if a is None or a.active:
            return
        n = len(self.excursions)
        too_many = self.excursion_max is not None and n > self.excursion_max
        too_close = n >= 2 and t - self.excursions[-2] < self.excursion_spacing_s
        if too_many or too_close:
            a.evaluate(True, float(n), now)

    def _add(self, start: float, end: float, x: float, now: float) -> None:
        """Add a held segment to the window and to the shift(s) it falls in."""
        w = self.window
        d = end - start
        w.segments.append((start, end, x))
        w.integral += x * d
        w.covered += d
        shift = self.shift
        if shift.start <= start and end <= shift.end:  # the common case: inside one shift
            if shift.on:
                self.dose += x * d
                self.covered += d
                if self.minute_dose is not None:
                    self._by_minute(start, end, x)
            return
        while start < end:
            shift = self.shift
            if start >= shift.end:
                self._roll(start, now)
                shift = self.shift
            stop = end if end < shift.end else shift.end
            if shift.on and start >= shift.start:
                self.dose += x * (stop - start)
                self.covered += stop - start
                if self.minute_dose is not None:
                    self._by_minute(start, stop, x)
            start = stop

    def _by_minute(self, start: float, end: float, x: float) -> None:
        doses, covs = self.minute_dose, self.minute_cov
        assert doses is not None
        assert covs is not None
        origin = self.shift.start
        i = int((start - origin) // 60)
        while start < end and i < len(doses):
            stop = min(end, origin + (i + 1) * 60.0)
            doses[i] += x * (stop - start)
            covs[i] += stop - start
            start = stop
            i += 1

    def worst_reference_period(self) -> tuple[float, float] | None:
        """(dose, covered s) of the worst 8 h of a longer shift, or None for a shorter one."""
        doses, covs = self.minute_dose, self.minute_cov
        if doses is None or covs is None:
            return None
        n = int(self.reference_s // 60)
        run_dose, run_cov = sum(doses[:n]), sum(covs[:n])
        best = (run_dose, run_cov)
        for i in range(n, len(doses)):
            run_dose += doses[i] - doses[i - n]
            run_cov += covs[i] - covs[i - n]
            if run_dose > best[0]:
                best = (run_dose, run_cov)
        return best

    def _roll(self, t: float, now: float) -> None:
        """Close the shift (report it, clear its alarms) and start the one containing ``t``."""
        old = self.shift
        if old.on and self.covered > 0:
            self._report(old)
        end_ts = old.end if old.end > 0 else t
        final = _finite(self.headline(self.dose))
        for a in (
            self.dose_alarm,
            self.action_alarm,
            self.upper_action_alarm,
            self.projection_alarm,
        ):
            if a is not None and (a.cond or a.active):
                a.evaluate(False, final, end_ts)
        a = self.excursion_alarm
        if a is not None and (a.cond or a.active):
            a.evaluate(False, float(len(self.excursions)), end_ts)
        # A peak still going on at the shift change counts as the new shift's first.
        self.peaks = 1 if self.peak_from is not None else 0
        self.shift = shift = self.clock.at(t)
        length = shift.end - shift.start
        if self.mode is Mode.GAS and self.averages and shift.on and length > self.reference_s:
            minutes = math.ceil(length / 60)
            self.minute_dose, self.minute_cov = [0.0] * minutes, [0.0] * minutes
        else:
            self.minute_dose = self.minute_cov = None
        self.dose = 0.0
        self.covered = 0.0
        self.max_v = _NEG_INF
        self.excursions = []
        self.projected = None

    def _report(self, shift: Shift) -> None:
        snapshot = self.snapshot(at=shift.end)
        by_name = {f.name: f for f in snapshot.figures}
        names = [n for n in ("twa", "lex_8h", "osha_twa_db", "stel") if n in by_name]
        if not names:
            return  # a ceiling-only point (a peak level) has no shift figure to report
        head = by_name[names[0]]
        self.emitter.emit(
            EventCategory.EXPOSURE,
            "exposure.shift",
            "report",
            shift.end,
            point=self.state.point_id,
            value=head.value,
            limit=head.limit,
            message=f"shift {head.name} {head.value if head.value is not None else '?'} "
            f"{head.unit}, coverage {head.coverage:.0%}",
            details={
                "shift_start": shift.start,
                "shift_end": shift.end,
                "figures": [f.as_dict() for f in snapshot.figures],
                "stel_excursions": len(self.excursions),
            },
        )

    # -- time-driven ---------------------------------------------------------------------------

    def tick(self, now: float, project: bool, grace_s: float) -> None:
        shift = self.shift
        if shift.end > 0 and now >= shift.end + grace_s:
            # A silent point still closes its shift; a late reading of the old shift then only
            # counts towards the window. The held value is added up to where it can reach.
            prev = self.prev_t
            if prev is not None:
                end = min(prev + self.max_gap_s, shift.end)
                if end > self.held_from:
                    self._add(self.held_from, end, self.prev_x, now)
                    self.held_from = end
            self._roll(now, now)
        if project:
            self._project(now)
        trusted = self.state.trusted
        for alarm in self.alarms():
            if not alarm.quiet:
                alarm.tick(now, trusted)  # shelve expiry, re-alarm

    def _project(self, now: float) -> None:
        a = self.projection_alarm
        if a is None:
            return
        t = self.last_t
        shift = self.shift
        if t is None or not shift.on or not shift.start <= t < shift.end:
            self.projected = None
            if a.cond or a.active:
                a.evaluate(False, None, now)
            return
        integral, covered = self.window.at(t)
        if covered <= 0:
            return
        recent = integral / covered
        projected = self.dose + recent * (shift.end - t)
        self.projected = _finite(self.headline(projected))
        exceeded = self.dose_alarm is not None and self.dose_alarm.active
        cond = projected > self.dose_limit and not exceeded
        if cond or a.cond or a.active:
            a.evaluate(cond, self.projected, now)

    # -- reporting -----------------------------------------------------------------------------

    def snapshot(self, at: float | None = None) -> ExposureSnapshot:
        point = self.state.point
        shift = self.shift
        ref = at if at is not None else self.last_t
        elapsed = 0.0
        if shift.on and ref is not None:
            elapsed = max(0.0, min(ref, shift.end) - shift.start)
        gap = max(0.0, elapsed - self.covered)
        peak = self._x(self.max_v) if self.max_v > _NEG_INF else 0.0
        worst = self.dose + gap * peak
        shift_len = shift.end - shift.start if shift.on else 0.0
        coverage = self.covered / shift_len if shift_len > 0 else 0.0
        uncertain = coverage < self.min_coverage
        figures: list[ExposureFigure] = []
        if self.mode is Mode.GAS and self.averages:
            if ref is not None:
                integral, covered = self.window.at(ref)
            else:
                integral, covered = 0.0, 0.0
            w = self.window.length_s
            stel_cov = covered / w
            stel = integral / w
            figures.append(
                ExposureFigure(
                    "stel",
                    stel,
                    integral / covered if covered > 0 else None,
                    (integral + (w - covered) * peak) / w,
                    self.stel_limit,
                    point.unit,
                    stel_cov,
                    stel_cov < self.min_coverage,
                    self.stel_limit is not None and stel > self.stel_limit,
                )
            )
            twa = self.dose / self.reference_s
            figures.append(
                ExposureFigure(
                    "twa",
                    twa,
                    self.dose / self.covered if self.covered > 0 else None,
                    worst / self.reference_s,
                    self.twa_limit,
                    point.unit,
                    coverage,
                    uncertain,
                    self.twa_limit is not None and twa > self.twa_limit,
                )
            )
            worst8 = self.worst_reference_period()
            if worst8 is not None:
                w_dose, w_cov = worst8
                w_twa = w_dose / self.reference_s
                w_coverage = w_cov / self.reference_s
                figures.append(
                    ExposureFigure(
                        "twa_worst_8h",
                        w_twa,
                        w_dose / w_cov if w_cov > 0 else None,
                        None,
                        self.twa_limit,
                        point.unit,
                        w_coverage,
                        w_coverage < self.min_coverage,
                        self.twa_limit is not None and w_twa > self.twa_limit,
                    )
                )
        elif self.noise is not None:
            noise = self.noise
            level = self.headline(self.dose)
            sampled_dose = self.dose / self.covered * self.reference_s if self.covered > 0 else None
            name = "lex_8h" if self.mode is Mode.ISO else "osha_twa_db"
            figures.append(
                ExposureFigure(
                    name,
                    _finite(level),
                    _finite(self.headline(sampled_dose)) if sampled_dose is not None else None,
                    _finite(self.headline(worst)),
                    noise.criterion_db,
                    "dB(A)",
                    coverage,
                    uncertain,
                    level > noise.criterion_db,
                )
            )
            figures.append(
                ExposureFigure(
                    "noise_dose_pct",
                    self.dose_pct(self.dose),
                    self.dose_pct(sampled_dose) if sampled_dose is not None else None,
                    self.dose_pct(worst),
                    100.0,
                    "%",
                    coverage,
                    uncertain,
                    self.dose > self.dose_limit,
                )
            )
        max_v = self.max_v if self.max_v > _NEG_INF else None
        return ExposureSnapshot(
            point=point.point_id,
            quantity=point.quantity,
            unit=point.unit,
            ts=ref,
            shift_start=shift.start if shift.on else None,
            shift_end=shift.end if shift.on else None,
            figures=tuple(figures),
            ceiling=self.ceiling,
            max_value=max_v,
            ceiling_exceeded=bool(
                self.ceiling is not None and max_v is not None and max_v > self.ceiling
            ),
            projected=self.projected,
            stel_excursions=len(self.excursions),
            min_excursion_spacing_s=min(
                (b - a for a, b in zip(self.excursions, self.excursions[1:], strict=False)),
                default=None,
            ),
            condition=self.state.condition,
        )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


class ExposureRule:
    """Ceiling, STEL, TWA and noise dose against the plant's limit set."""

    name = "exposure"

    def __init__(
        self, config: RulesConfig, limit_set: LimitSet, clock: ShiftClock, emitter: Emitter
    ) -> None:
        self.config = config
        self.settings = config.exposure
        self.limit_set = limit_set
        self.clock = clock
        self.emitter = emitter
        self.noise = noise_params(limit_set.noise, config.exposure)
        self.trackers: list[ExposureTracker] = []
        self.problems: list[FieldProblem] = []
        self._next_projection: float | None = None

    def attach(self, state: PointState) -> Handler | None:
        point = state.point
        _, rules = self.config.point_rules(point)
        if not (self.settings.enabled and rules.exposure):
            return None
        mode = Mode.GAS
        ceiling = stel = twa = None
        peak: Peak | None = None
        if point.quantity == "noise.laeq" and self.noise is not None:
            mode = Mode.OSHA if self.noise.regime is NoiseRegime.OSHA else Mode.ISO
        elif point.quantity == "noise.lcpeak":
            noise = self.limit_set.noise
            if noise is None or noise.peak_db_c is None:
                return None
            ceiling = noise.peak_db_c
        else:
            limits = self.limit_set.substances.get(point.quantity)
            if limits is None:
                return None
            ceiling = self._in_unit(point.quantity, point.unit, "ceiling", limits.ceiling)
            peak_value = self._in_unit(point.quantity, point.unit, "peak", limits.peak)
            if peak_value is not None and limits.peak is not None:
                peak = Peak(peak_value, limits.peak.max_minutes * 60.0, limits.peak.per_shift)
            stel = self._in_unit(point.quantity, point.unit, "stel", limits.stel)
            twa = self._in_unit(point.quantity, point.unit, "twa", limits.twa)
            if ceiling is None and stel is None and twa is None:
                return None
        tracker = ExposureTracker(
            state,
            mode=mode,
            noise=self.noise if mode is not Mode.GAS else None,
            ceiling=ceiling,
            stel_limit=stel,
            twa_limit=twa,
            settings=self.settings,
            clock=self.clock,
            emitter=self.emitter,
            peak=peak,
        )
        self.trackers.append(tracker)
        return tracker.observe

    def _in_unit(
        self, quantity: str, unit: str, name: str, limit: LimitValue | None
    ) -> float | None:
        if limit is None:
            return None
        try:
            return limit.in_unit(quantity, unit, self.limit_set.molar_volume_l)
        except UnitError as exc:
            self.problems.append(
                FieldProblem(
                    f"limit_set[{self.limit_set.id}].substances.{quantity}.{name}",
                    f"{limit.value} {limit.unit}",
                    f"cannot be compared with readings in {unit}: {exc}",
                )
            )
            return None

    def tick(self, now: float) -> None:
        project = self._next_projection is None or now >= self._next_projection
        if project:
            self._next_projection = now + self.settings.projection_interval_s
        for tracker in self.trackers:
            tracker.tick(now, project, grace_s=max(60.0, 3 * tracker.max_gap_s))

    def alarms(self) -> Iterable[Alarm]:
        for tracker in self.trackers:
            yield from tracker.alarms()

    def snapshots(self) -> list[ExposureSnapshot]:
        return [t.snapshot() for t in self.trackers]
