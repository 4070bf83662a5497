"""API answers of the compliance ledger and the what-if.

Each limit says how it was compared (``basis``): TWA-type limits against the day's mean of the
readings, ceiling/MAC limits against the day's maximum. STEL and noise need a rolling 15-min mean
or a dose and are listed as not evaluated here (the edge raises ``exposure.*`` events for them).
"""

from __future__ import annotations

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
    """TWA breached: 1; ceiling breached: the number of readings above it."""
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
