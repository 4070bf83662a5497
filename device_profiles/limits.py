"""Exposure limit sets: the occupational limits a plant is held to, picked by name.

A limit set is YAML in ``limit_sets/``. Each limit keeps its native unit (GBZ 2.1 is in mg/m³,
OSHA/ACGIH in ppm) and is converted at compare time with the set's molar volume
(hse-standards.md §2.3).
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .field_errors import FieldValueError, RelativeProblem
from .quantities import (
    QUANTITIES,
    UnitError,
    conversion,
    mg_m3_to_ppm,
    normalize_unit,
    ppm_to_mg_m3,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitValue(_Model):
    """One limit in its native unit, with the source key of hse-standards.md (``[G14]``).

    ``unverified`` marks a value the reference could not confirm (its class U); ``note`` then
    says why it is carried. Consumers may refuse to enforce unverified values.
    """

    value: float = Field(gt=0)
    unit: str
    source: str = Field(min_length=1)
    unverified: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _unverified_explained(self) -> LimitValue:
        if self.unverified and not self.note:
            raise FieldValueError.at(
                ("note",), self.note, "an unverified value needs a note saying why it is carried"
            )
        return self

    def in_unit(self, quantity: str, unit: str, molar_volume_l: float) -> float:
        """This limit expressed in ``unit`` for ``quantity``."""
        native = normalize_unit(self.unit)
        target = normalize_unit(unit)
        if native == "mg/m³" and target == "ppm":
            return mg_m3_to_ppm(self.value, quantity, molar_volume_l)
        if native == "ppm" and target == "mg/m³":
            return ppm_to_mg_m3(self.value, quantity, molar_volume_l)
        factor, offset = conversion(native, target)
        return self.value * factor + offset


class PeakAllowance(LimitValue):
    """A peak above the ceiling that is allowed for a while: OSHA Table Z-2 lets H2S reach 50 ppm
    for at most 10 min once per 8-h shift (hse-standards.md §2.1 [G4][G5]). ``value`` is the
    peak that is never allowed; above the ceiling but under it, a peak may last ``max_minutes``
    and happen ``per_shift`` times."""

    max_minutes: float = Field(gt=0)
    per_shift: int = Field(1, ge=1)


class SubstanceLimits(_Model):
    """Limits for one quantity. ``ceiling`` covers MAC (China) and C (OSHA/NIOSH)."""

    twa: LimitValue | None = None
    stel: LimitValue | None = None
    ceiling: LimitValue | None = None
    peak: PeakAllowance | None = None
    idlh: LimitValue | None = None
    action_level: LimitValue | None = None
    note: str = ""

    @model_validator(mode="after")
    def _peak_above_a_ceiling(self) -> SubstanceLimits:
        if self.peak is not None and self.ceiling is None:
            raise FieldValueError.at(
                ("peak",),
                self.peak.value,
                "a peak allowance needs the ceiling it allows a peak above",
            )
        if (
            self.peak is not None
            and self.ceiling is not None
            and normalize_unit(self.peak.unit) == normalize_unit(self.ceiling.unit)
            and self.peak.value <= self.ceiling.value
        ):
            raise FieldValueError.at(
                ("peak", "value"),
                self.peak.value,
                f"the peak must be above the ceiling ({self.ceiling.value:g} {self.ceiling.unit})",
            )
        return self


class NoiseRegime(enum.StrEnum):
    ISO_9612 = "iso9612"  # LEX,8h with a 3 dB exchange rate (ISO 9612, EU 2003/10/EC, GBZ 2.2)
    OSHA = "osha"  # dose with a 5 dB exchange rate (29 CFR 1910.95)


class NoiseLimits(_Model):
    regime: NoiseRegime
    criterion_db: float  # level allowed for 8 h
    exchange_db: float
    threshold_db: float = 0.0  # levels below are left out of the dose (OSHA: 80 dB(A), [N8])
    action_db: float | None = None
    upper_action_db: float | None = None
    peak_db_c: float | None = None  # the peak limit
    action_peak_db_c: float | None = None  # peak at the (lower) action value, e.g. EU 135 dB(C)
    upper_action_peak_db_c: float | None = None  # peak at the upper action value, EU 137 dB(C)
    source: str
    note: str = ""


class LimitSet(_Model):
    schema_version: Literal[1] = 1
    id: str
    name: str
    jurisdiction: str
    molar_volume_l: float = Field(gt=20, lt=26)
    shift_hours: float = Field(8.0, gt=0, le=24)
    substances: dict[str, SubstanceLimits] = Field(default_factory=dict)
    noise: NoiseLimits | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _known(self) -> LimitSet:
        unknown = sorted(q for q in self.substances if q not in QUANTITIES)
        if unknown:
            raise FieldValueError(
                [
                    RelativeProblem(
                        ("substances", q), q, f"unknown quantity; known: {', '.join(QUANTITIES)}"
                    )
                    for q in unknown
                ]
            )
        problems = []
        for q, limits in self.substances.items():
            canonical = QUANTITIES[q].unit
            for kind in ("twa", "stel", "ceiling", "idlh", "action_level"):
                limit: LimitValue | None = getattr(limits, kind)
                if limit is None:
                    continue
                try:
                    limit.in_unit(q, canonical, self.molar_volume_l)
                except UnitError:
                    problems.append(
                        RelativeProblem(
                            ("substances", q, kind, "unit"),
                            limit.unit,
                            f"cannot be converted to {q}'s canonical unit {canonical!r}",
                        )
                    )
        if problems:
            raise FieldValueError(problems)
        return self
