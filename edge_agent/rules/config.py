"""The plant config's ``rules:`` section: per-point alarm overrides, shifts, exposure, nuisance
alarm thresholds, faults, anomaly and trend settings.

Every default names its source in hse-standards.md. :meth:`RulesConfig.validate` checks the
section against the plant's points and returns every problem with its field path (H above HH, a
deadband wider than the gap between two limits, a limit outside the measuring range, an unknown
point id), so a bad safety config is refused, never dropped with a warning.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from device_profiles import AlarmPriority, Limit
from device_profiles.limits import NoiseRegime
from device_profiles.loader import FieldProblem

from .errors import RulesConfigError
from .points import RulePoint

HOUR_S = 3600.0
DAY_S = 86_400.0
LIMIT_NAMES = ("ll", "l", "h", "hh")
ROC_NAMES = ("roc", "roc_rise", "roc_fall")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlarmOverride(_Model):
    """A plant's changes to a point's alarm defaults. A limit given here replaces the default one;
    ``disable`` removes inherited limits; unset fields keep the profile's values."""

    hh: Limit | None = None
    h: Limit | None = None
    l: Limit | None = None  # noqa: E741  (ISA-18.2 calls it L)
    ll: Limit | None = None
    roc_per_s: Limit | None = None  # |rate| in either direction
    roc_rise_per_s: Limit | None = None  # rising rate only
    roc_fall_per_s: Limit | None = None  # falling rate only (a positive number)
    deadband: float | None = Field(None, ge=0)
    on_delay_s: float | None = Field(None, ge=0)
    off_delay_s: float | None = Field(None, ge=0)
    re_alarm_s: float | None = Field(None, gt=0)
    disable: list[Literal["hh", "h", "l", "ll", "roc"]] = Field(default_factory=list)


class Foundation(enum.StrEnum):
    RIGID = "rigid"
    FLEXIBLE = "flexible"


# hse-standards.md §6.1 [V1]: ISO 10816-3 zone boundaries, RMS velocity mm/s: (A/B, B/C, C/D).
ISO_10816_3_ZONES: dict[tuple[int, Foundation], tuple[float, float, float]] = {
    (1, Foundation.RIGID): (2.3, 4.5, 7.1),
    (1, Foundation.FLEXIBLE): (3.5, 7.1, 11.0),
    (2, Foundation.RIGID): (1.4, 2.8, 4.5),
    (2, Foundation.FLEXIBLE): (2.3, 4.5, 7.1),
}


class MachineClass(_Model):
    """ISO 10816-3 machine group and foundation of a vibration point; explicit boundaries win."""

    group: Literal[1, 2] = 2  # hse-standards.md §6.1: group 2 (15-300 kW) is the common case
    foundation: Foundation = Foundation.RIGID
    bc_mm_s: float | None = Field(None, gt=0)
    cd_mm_s: float | None = Field(None, gt=0)

    def boundaries(self) -> tuple[float, float]:
        """(B/C, C/D) in mm/s."""
        _, bc, cd = ISO_10816_3_ZONES[(self.group, self.foundation)]
        return (self.bc_mm_s or bc, self.cd_mm_s or cd)


class PointRules(_Model):
    alarms: AlarmOverride | None = None
    exposure: bool = True
    anomaly: bool = True
    machine: MachineClass | None = None


class ShiftConfig(_Model):
    """Work shifts, for the TWA and the noise dose: each starts at one of ``starts`` (local time
    in ``timezone``) and lasts ``length_h``."""

    starts: list[time] = Field(
        default_factory=lambda: [time(6, 0), time(14, 0), time(22, 0)], min_length=1
    )
    length_h: float = Field(8.0, gt=0, le=24)  # hse-standards.md §3 [T1]: the 8-h shift
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name)") from exc
        return value


class AlarmSettings(_Model):
    """ISA-18.2 nuisance and housekeeping thresholds."""

    chattering_count: int = Field(3, ge=2)  # hse-standards.md §1.3 [A7]: 3+ activations in 1 min
    chattering_window_s: float = Field(60.0, gt=0)  # §1.3 [A7]
    flood_count: int = Field(10, ge=1)  # §1.3 [A5][A6][A8]: flood = more than 10 alarms in 10 min
    flood_window_s: float = Field(600.0, gt=0)  # §1.3 [A5][A6][A8]
    # The flood ends when the window holds this many or fewer (hysteresis, so a flood does not
    # itself chatter at the threshold; a project choice, not from the standards).
    flood_clear_count: int = Field(5, ge=0)
    stale_after_s: float = Field(DAY_S, gt=0)  # §1.3 [A12][A11]: stale = active beyond 24 h
    max_shelve_s: float = Field(8 * HOUR_S, gt=0)  # shelving is time-limited (§1.1 G); one shift
    re_alarm_s: float | None = Field(None, gt=0)  # OPC UA ReAlarmTime (§1.1 [A2]); off by default


class NoiseSettings(_Model):
    """Override of the limit set's noise regime; unset fields take the regime's defaults."""

    regime: NoiseRegime | None = None
    criterion_db: float | None = None
    exchange_db: float | None = Field(None, gt=0)
    threshold_db: float | None = None
    action_db: float | None = None
    upper_action_db: float | None = None


class Priorities(_Model):
    ceiling: AlarmPriority = AlarmPriority.CRITICAL
    peak: AlarmPriority = AlarmPriority.HIGH
    stel: AlarmPriority = AlarmPriority.HIGH
    twa: AlarmPriority = AlarmPriority.HIGH
    noise_dose: AlarmPriority = AlarmPriority.HIGH
    noise_action: AlarmPriority = AlarmPriority.MEDIUM
    noise_upper_action: AlarmPriority = AlarmPriority.MEDIUM
    projection: AlarmPriority = AlarmPriority.LOW
    stel_excursions: AlarmPriority = AlarmPriority.MEDIUM


class ExposureSettings(_Model):
    enabled: bool = True
    stel_window_s: float = Field(900.0, gt=0)  # hse-standards.md §3: 15-min rolling STEL
    twa_reference_h: float = Field(8.0, gt=0)  # §3 [T1]: TWA = D / 8 h whatever the shift length
    max_gap_intervals: float = Field(2.0, ge=1)  # §3: a value holds at most 2 poll intervals
    min_coverage: float = Field(7 / 8, gt=0, le=1)  # §3 [T2][T7]: >= 7 h of 8 h sampled
    projection_interval_s: float = Field(60.0, gt=0)  # how often tick projects the shift
    # hse-standards.md §3 [T8] (ACGIH): STEL excursions at most 4 a day and at least 60 min
    # apart; a shift breaking either raises exposure.stel_excursions. None: not checked.
    stel_excursions_per_shift: int | None = Field(4, ge=1)
    stel_excursion_spacing_s: float = Field(3600.0, ge=0)
    noise: NoiseSettings | None = None
    priorities: Priorities = Field(default_factory=Priorities)


class FaultSettings(_Model):
    comm_loss_intervals: float = Field(3.0, gt=1)  # hse-standards.md §8.3 [Q3][Q4]: > 3 polls
    # Spikes are flagged one by one by the quality stage (§8.3); several in a short time make a
    # fault worth a visit. The count and window are a project choice (no standard gives one).
    spike_count: int = Field(5, ge=2)
    spike_window_s: float = Field(600.0, gt=0)


class AnomalySettings(_Model):
    """Robust EWMA statistics per point: a value further than ``k`` mean absolute deviations from
    the mean is unusual (hse-standards.md §8.3 uses k = 5 for single spikes; anomalies are judged
    on a slower baseline, so k is larger). Raise after ``raise_after`` unusual samples in a row,
    clear after ``clear_after`` usual ones."""

    enabled: bool = True
    window_samples: int = Field(120, ge=5)  # EWMA span: alpha = 2 / (N + 1)
    k: float = Field(6.0, gt=0)
    warmup_samples: int = Field(30, ge=2)
    raise_after: int = Field(3, ge=1)
    clear_after: int = Field(10, ge=1)
    scale_floor_fraction: float = Field(0.005, ge=0)  # of the measuring range: ignores tiny noise
    relearn_after_s: float = Field(HOUR_S, gt=0)  # a lasting change is the new normal


class TrendSettings(_Model):
    enabled: bool = True
    quantities: list[str] = Field(default_factory=lambda: ["vibration.velocity_rms"])
    bucket_s: float = Field(HOUR_S, gt=0)  # hse-standards.md §6.2: fit hourly means, not readings
    window_s: float = Field(30 * DAY_S, gt=0)
    min_points: int = Field(5, ge=3)  # §6.2: refuse to extrapolate from fewer than ~5 points
    min_r2: float = Field(0.8, ge=0, le=1)  # §6.2 [V2]: R² < 0.80 is a poor fit
    horizon_s: float = Field(7 * DAY_S, gt=0)  # warn when C/D is fewer than 7 days away
    # Never extrapolate further ahead than this many times the span of the data fitted: five
    # hourly means say nothing about next week, whatever their R² (a project choice; §6.2
    # gives no number).
    max_extrapolation: float = Field(2.0, gt=0)
    fit_interval_s: float = Field(HOUR_S, gt=0)  # fits run in tick, at most this often per point
    machine: MachineClass = Field(default_factory=MachineClass)


class RulesConfig(_Model):
    """The ``rules:`` section of a plant config."""

    points: dict[str, PointRules] = Field(
        default_factory=dict
    )  # key: plant/device/point or device/point
    shift: ShiftConfig = Field(default_factory=ShiftConfig)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    trend: TrendSettings = Field(default_factory=TrendSettings)

    def point_rules(self, point: RulePoint) -> tuple[str | None, PointRules]:
        """The config key naming ``point`` (or None) and its settings."""
        short = point.point_id.split("/", 1)[1]
        for key in (point.point_id, short):
            if key in self.points:
                return key, self.points[key]
        return None, PointRules()

    def validate_for(
        self, points: Sequence[RulePoint], *, where: str = "rules"
    ) -> list[FieldProblem]:
        """Every problem of this config against ``points``, each named by its field path."""
        problems: list[FieldProblem] = []
        known = {p.point_id for p in points}
        short = {p.point_id.split("/", 1)[1] for p in points}
        for key in self.points:
            if key not in known and key not in short:
                problems.append(
                    FieldProblem(
                        f"{where}.points.{key}",
                        key,
                        f"no such point; known points: {', '.join(sorted(known)[:10]) or '(none)'}",
                    )
                )
        for point in points:
            cfg_key, rules = self.point_rules(point)
            prefix = (
                f"{where}.points.{cfg_key}" if cfg_key else f"{point.point_id} (device profile)"
            )
            problems.extend(
                _check_alarms(point, alarm_spec(point, rules, self.alarms), rules, prefix)
            )
            if rules.machine is not None and point.quantity not in self.trend.quantities:
                problems.append(
                    FieldProblem(
                        f"{prefix}.machine",
                        rules.machine.model_dump(mode="json"),
                        f"machine class applies to {self.trend.quantities}, not {point.quantity}",
                    )
                )
        problems.extend(_check_shifts(self.shift, where))
        if self.alarms.flood_clear_count >= self.alarms.flood_count:
            problems.append(
                FieldProblem(
                    f"{where}.alarms.flood_clear_count",
                    self.alarms.flood_clear_count,
                    f"must be below flood_count={self.alarms.flood_count}",
                )
            )
        return problems


def load_rules_config(data: Mapping[str, Any] | None, *, where: str = "rules") -> RulesConfig:
    """Validate a plant config's ``rules:`` mapping; raises ``RulesConfigError`` with field paths."""
    raw = dict(data or {})
    try:
        return RulesConfig.model_validate(raw)
    except ValidationError as exc:
        raise RulesConfigError(_problems(exc, raw, where)) from exc


_ABSENT = object()


def _problems(exc: ValidationError, data: Mapping[str, Any], where: str) -> list[FieldProblem]:
    """pydantic's errors as (path, value, message), the path as written in the YAML."""
    out = []
    for err in exc.errors(include_url=False):
        node: Any = data
        path = where
        for part in err["loc"]:
            child: Any = _ABSENT
            if isinstance(node, Mapping):
                child = node.get(part, _ABSENT)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                child = node[part]
            if child is _ABSENT:
                if err["type"] == "missing":
                    path += f".{part}"
                continue  # a union tag or model name, not a key in the data
            node = child
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message, node = "required field is missing", None
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(FieldProblem(path, node, message))
    return out


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One configured limit alarm: its name (``hh``...), value in canonical units and traits."""

    name: str
    value: float
    priority: AlarmPriority
    latch: bool
    source: str
    overridden: bool


@dataclass(frozen=True, slots=True)
class PointAlarmSpec:
    """The effective limit alarms of one point after the plant's overrides."""

    limits: tuple[LimitSpec, ...]  # level limits, in ladder order ll, l, h, hh
    rocs: tuple[LimitSpec, ...]  # roc (either way), roc_rise, roc_fall
    deadband: float
    on_delay_s: float
    off_delay_s: float
    re_alarm_s: float | None


def alarm_spec(point: RulePoint, rules: PointRules, settings: AlarmSettings) -> PointAlarmSpec:
    """Merge a point's profile defaults with the plant's override."""
    base = point.alarms
    over = rules.alarms
    disabled = set(over.disable) if over else set()
    limits: list[LimitSpec] = []
    for name in LIMIT_NAMES:
        chosen = getattr(over, name) if over else None
        overridden = chosen is not None
        if chosen is None and base is not None:
            chosen = getattr(base, name)
        if chosen is not None and name not in disabled:
            limits.append(_spec(name, chosen, overridden))
    rocs: list[LimitSpec] = []
    roc = (over.roc_per_s if over else None) or (base.roc_per_s if base else None)
    if roc is not None and "roc" not in disabled:
        rocs.append(_spec("roc", roc, bool(over and over.roc_per_s)))
    if over is not None:
        if over.roc_rise_per_s is not None:
            rocs.append(_spec("roc_rise", over.roc_rise_per_s, True))
        if over.roc_fall_per_s is not None:
            rocs.append(_spec("roc_fall", over.roc_fall_per_s, True))

    def pick(field: str, default: float) -> float:
        value = getattr(over, field) if over else None
        if value is None and base is not None:
            value = getattr(base, field)
        return default if value is None else float(value)

    re_alarm = over.re_alarm_s if over and over.re_alarm_s is not None else settings.re_alarm_s
    return PointAlarmSpec(
        limits=tuple(limits),
        rocs=tuple(rocs),
        deadband=pick("deadband", 0.0),
        on_delay_s=pick("on_delay_s", 0.0),
        off_delay_s=pick("off_delay_s", 0.0),
        re_alarm_s=re_alarm,
    )


def _spec(name: str, limit: Limit, overridden: bool) -> LimitSpec:
    return LimitSpec(name, limit.value, limit.priority, limit.latch, limit.source, overridden)


def _check_alarms(
    point: RulePoint, spec: PointAlarmSpec, rules: PointRules, prefix: str
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def path(name: str, overridden: bool, field: str = "value") -> str:
        if overridden:
            return (
                f"{prefix}.alarms.{name}_per_s.{field}"
                if name.startswith("roc")
                else (f"{prefix}.alarms.{name}.{field}")
            )
        return f"{point.point_id} (device profile).alarms.{name}.{field}"

    for lower, upper in itertools.pairwise(spec.limits):
        if lower.value >= upper.value:
            problems.append(
                FieldProblem(
                    path(lower.name, lower.overridden),
                    lower.value,
                    f"{lower.name.upper()} must be below {upper.name.upper()}={upper.value:g}",
                )
            )
        elif spec.deadband >= upper.value - lower.value:
            over = rules.alarms is not None and rules.alarms.deadband is not None
            problems.append(
                FieldProblem(
                    f"{prefix}.alarms.deadband"
                    if over
                    else f"{point.point_id} (device profile).alarms.deadband",
                    spec.deadband,
                    f"deadband is not smaller than the gap between {lower.name.upper()}="
                    f"{lower.value:g} and {upper.name.upper()}={upper.value:g} {point.unit}",
                )
            )
    if point.range is not None:
        low, high = point.range
        for lim in spec.limits:
            if not low <= lim.value <= high:
                problems.append(
                    FieldProblem(
                        path(lim.name, lim.overridden),
                        lim.value,
                        f"limit is outside the measuring range [{low:g}, {high:g}] {point.unit}",
                    )
                )
    for roc in spec.rocs:
        if roc.value <= 0:
            problems.append(
                FieldProblem(
                    path(roc.name, roc.overridden),
                    roc.value,
                    "a rate-of-change limit must be a positive rate per second",
                )
            )
    return problems


def _check_shifts(shift: ShiftConfig, where: str) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    minutes = [s.hour * 60 + s.minute for s in shift.starts]
    if minutes != sorted(set(minutes)):
        problems.append(
            FieldProblem(
                f"{where}.shift.starts",
                [s.strftime("%H:%M") for s in shift.starts],
                "shift starts must be in increasing order without repeats",
            )
        )
        return problems
    length_min = shift.length_h * 60
    for i, start in enumerate(minutes):
        nxt = minutes[i + 1] if i + 1 < len(minutes) else minutes[0] + 24 * 60
        if start + length_min > nxt + 1e-9:
            problems.append(
                FieldProblem(
                    f"{where}.shift.length_h",
                    shift.length_h,
                    f"a {shift.length_h:g} h shift starting {shift.starts[i].strftime('%H:%M')} "
                    f"overlaps the next start; set {where}.shift.starts to fit the length",
                )
            )
            break
    return problems
