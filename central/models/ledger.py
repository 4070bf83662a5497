"""API answers of the compliance ledger and the what-if.

Each limit says how it was compared (``basis``): TWA-type limits against the day's mean of the
readings, ceiling/MAC limits against the day's maximum. STEL and noise need a rolling 15-min mean
or a dose, which central cannot recompute from daily figures: the ledger lists what the agents
judged from every reading instead (their ``exposure.*`` alarms and end-of-shift reports).
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel
from pydantic import Field as PydanticField
from sqlmodel import SQLModel


class LimitSetInfo(SQLModel):
    id: str
    name: str
    jurisdiction: str
    molar_volume_l: float


class LimitApplied(SQLModel):
    kind: str
    """``twa`` or ``ceiling``."""
    basis: str
    """``daily_mean`` (TWA) or ``daily_max`` (ceiling / MAC)."""
    value: float
    """In the point's unit."""
    unit: str
    native_value: float
    native_unit: str
    source: str


class LedgerDay(SQLModel):
    date: str
    samples: int
    values: int
    mean: float | None
    max: float | None
    exceedances: int
    """TWA breached: 1; ceiling breached: the number of readings above it (a thinned minute
    whose maximum is above it counts once)."""
    breaches: list[str]


class LedgerPoint(SQLModel):
    point: str
    device: str
    device_serial: str | None
    calibration_due: str | None
    area: str | None
    quantity: str
    unit: str
    limits: list[LimitApplied]
    days: list[LedgerDay]


class EvidenceReading(SQLModel):
    ts: str
    value: float | None
    quality: str
    calibration_overdue: bool | None


class EvidenceAggregate(SQLModel):
    """A minute the agent thinned (its outbox short of disk): its raw readings are gone, the
    aggregate is what is left of them."""

    from_ts: str
    to_ts: str
    count: int
    min: float | None
    max: float | None
    mean: float | None
    quality: str
    calibration_overdue: bool | None


class Exceedance(SQLModel):
    point: str
    device: str
    device_serial: str | None
    date: str
    kind: str
    basis: str
    limit: float
    unit: str
    observed: float
    readings_over: int
    """Readings of the day above the limit."""
    calibration_due: str | None
    calibration_status: str
    """``valid``, ``overdue`` (a reading behind it was taken after the due date) or ``unknown``."""
    readings: list[EvidenceReading]
    readings_truncated: bool
    thinned_over: int = 0
    """Thinned minutes of the day whose maximum is above the limit."""
    thinned: list[EvidenceAggregate] = []
    thinned_truncated: bool = False


class ExposureFinding(SQLModel):
    """An exposure alarm an agent raised, or its end-of-shift exposure report."""

    point: str
    device: str
    device_serial: str | None
    date: str
    """The plant's local date."""
    ts: str
    kind: str
    """``exposure.stel``, ``exposure.twa``, ``exposure.noise_dose``, ``exposure.ceiling``,
    ``exposure.twa_projection``, ``exposure.noise_action``, ``exposure.shift`` ..."""
    judged: str
    """``exceeded`` (a limit of the set), ``projected`` (a warning: the shift will end above
    it), ``action_level`` (noise), ``peak_allowance`` (above a ceiling, within the set's peak
    allowance: OSHA H2S), ``excursion_rule`` (more than 4 STEL excursions in a shift,
    or two less than 60 min apart: ACGIH), ``shift_report``."""
    exceeded: bool
    """A limit exceeded: an ``exceeded`` alarm, or a shift report with a figure above its
    limit."""
    value: float | None
    limit: float | None
    unit: str
    priority: str | None
    coverage: float | None
    """Shift reports: sampled time / shift of the headline figure (below 7/8 is uncertain)."""
    figures: list[dict[str, Any]] = []
    """Shift reports: every figure (name, value, limit, unit, coverage, uncertain, exceeded)."""
    message: str


class NotEvaluated(SQLModel):
    point: str | None
    quantity: str
    reason: str


class Ledger(SQLModel):
    plant: str
    region: str
    limit_set: LimitSetInfo | None
    timezone: str
    start: str
    end: str
    days: int
    computed: str
    """How: on demand, set-based, from the hourly roll-up (see docs/central-records.md)."""
    compliant: bool | None
    """None: the plant names no limit set."""
    exceedance_count: int
    points: list[LedgerPoint]
    exceedances: list[Exceedance]
    not_evaluated: list[NotEvaluated]
    exposure_exceedance_count: int = 0
    """Exposure limits the agents found exceeded (STEL, shift TWA, noise dose, ceiling)."""
    exposure_findings: list[ExposureFinding] = []
    exposure_findings_truncated: bool = False


class LimitIn(BaseModel):
    value: float = PydanticField(gt=0)
    unit: str = PydanticField(min_length=1, max_length=16)
    source: str = "what-if"


class SubstanceIn(BaseModel):
    twa: LimitIn | None = None
    ceiling: LimitIn | None = None


class WhatIfIn(BaseModel):
    limit_set: str | None = None
    """Evaluate every plant against this limit set instead of its own."""
    limits: dict[str, SubstanceIn] = PydanticField(default_factory=dict)
    """Per quantity (``gas.h2s``): limits replacing those of the set."""
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    plants: list[str] | None = None
    """Only these plants (default: every plant in scope)."""


class WhatIfBreach(SQLModel):
    point: str
    date: str
    kind: str
    basis: str
    limit: float
    unit: str
    observed: float


class WhatIfPlant(SQLModel):
    plant: str
    region: str
    limit_set_now: str | None
    limit_set_what_if: str | None
    compliant_now: bool | None
    compliant_what_if: bool | None
    pushed_out: bool
    breaches_now: int
    breaches_what_if: list[WhatIfBreach]


class WhatIf(SQLModel):
    start: str
    end: str
    plants: list[WhatIfPlant]
    pushed_out: list[str]
    """Plants compliant under their current limits that would be out of compliance."""
    out_of_compliance: list[str]
    """Every plant out of compliance under the what-if limits."""
