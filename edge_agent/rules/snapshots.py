"""Read-only views of the engine's state, for the status API, ``hse-edge alarms`` and interlocks.

All frozen dataclasses; ``as_dict()`` gives JSON-ready values. A point in fault never shows a
value: ``value`` is None and ``condition`` says ``fault``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _Snapshot:
    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class AlarmSnapshot(_Snapshot):
    """One alarm with its ISA-18.2 state (``state``: the operator's view, overlays first)."""

    alarm_id: str
    point: str | None
    kind: str
    category: str
    priority: str
    state: str  # normal, active_unacked, ... shelved, suppressed, out_of_service
    base_state: str  # A-F without overlays
    active: bool
    acked: bool
    latched: bool
    shelved_until: float | None
    suppressed: bool
    out_of_service: bool
    annunciated: bool
    limit: float | None
    unit: str
    value: float | None  # the point's latest usable value (None in fault or unknown)
    evaluated_value: float | None  # the value (or rate, figure) at the alarm's last evaluation
    condition: str  # normal / abnormal / fault / unknown
    activated_ts: float | None
    activations: int
    chattering: bool
    stale: bool
    source: str


@dataclass(frozen=True, slots=True)
class ExposureFigure(_Snapshot):
    """One exposure figure with its three readings of gaps (hse-standards.md §3)."""

    name: str  # stel, twa, twa_worst_8h, lex_8h, osha_twa_db, noise_dose_pct
    value: float | None  # zero-filled: the regulatory figure
    sampled_mean: float | None  # unsampled time at the sampled mean
    worst_case: float | None  # unsampled time at the highest value of the shift
    limit: float | None
    unit: str
    coverage: float  # sampled time / period (15 min for the STEL, the shift for the rest)
    uncertain: bool  # coverage below 7/8 (§3 [T2][T7])
    exceeded: bool


@dataclass(frozen=True, slots=True)
class ExposureSnapshot(_Snapshot):
    point: str
    quantity: str
    unit: str
    ts: float | None  # source time the figures are as of (the latest usable reading)
    shift_start: float | None
    shift_end: float | None
    figures: tuple[ExposureFigure, ...]
    ceiling: float | None
    max_value: float | None  # highest value this shift
    ceiling_exceeded: bool
    projected: float | None  # the headline figure at the end of the shift, at the recent mean
    stel_excursions: int  # times above the STEL this shift (ACGIH: <= 4 a day, §3 [T8])
    min_excursion_spacing_s: float | None  # shortest time between two (ACGIH: >= 60 min)
    condition: str  # ok / fault / unknown

    def figure(self, name: str) -> ExposureFigure:
        for f in self.figures:
            if f.name == name:
                return f
        raise KeyError(f"{self.point} has no exposure figure {name!r}")


@dataclass(frozen=True, slots=True)
class FaultSnapshot(_Snapshot):
    point: str
    kind: str  # fault.comm, fault.ne43 ...
    reason: str
    since: float
    blocking: bool  # the point's values are not evaluated while it lasts
    device_id: str | None
    device_serial: str | None


@dataclass(frozen=True, slots=True)
class AnomalySnapshot(_Snapshot):
    point: str
    active: bool
    since: float | None
    mean: float | None
    scale: float | None
    samples: int  # values the statistics learned from (unusual ones are not learned)


@dataclass(frozen=True, slots=True)
class PredictionSnapshot(_Snapshot):
    """The latest trend fit of one vibration point (hse-standards.md §6.2)."""

    point: str
    fitted_at: float | None
    points: int  # downsampled means the fit used
    model: str | None  # linear / exponential: the one giving the earlier crossing
    r2: float | None
    confidence: str | None  # high (R² > 0.95) / moderate (0.80-0.95); None when refused
    predicted_cd_ts: float | None  # when the C/D boundary is reached
    predicted_bc_ts: float | None
    boundary_bc: float
    boundary_cd: float
    active: bool  # C/D predicted within the horizon
    refused: str | None  # why no prediction was made (too few points, poor fit, no rise)


@dataclass(frozen=True, slots=True)
class RulesStats(_Snapshot):
    readings: int
    readings_unknown_point: int
    readings_not_usable: int  # BAD, without a value, or from a point in fault
    exposure_out_of_order: int
    clock_regressions: int  # calls whose ``now`` was earlier than a previous one
    events: int
    events_by_category: Mapping[str, int]
    alarms: int
    alarms_active: int
    alarms_unacked: int
    alarms_shelved: int
    alarms_suppressed: int
    alarms_out_of_service: int
    alarm_activations: int
    chattering_episodes: int
    chattering_now: int
    floods: int
    in_flood: bool
    stale_alarms: int
    faults_active: int
    anomalies_active: int
    predictions_active: int
    trend_fits: int
    ticks: int
