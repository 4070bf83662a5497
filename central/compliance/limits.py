"""Which limit applies to which point, in the point's unit, and how it is compared.

A point is evaluated when its quantity has a TWA or a ceiling (MAC, C) in the limit set (or in
the what-if's overrides). Each limit is converted to the point's unit with
``LimitValue.in_unit`` and the set's molar volume (hse-standards.md §2.3). TWA-type limits are
compared with the day's mean (the ledger's basis ``daily_mean``: a full-shift TWA needs the
shift's readings, the day's mean stands for it), ceilings with the day's maximum
(``daily_max``: never to be exceeded). STEL (a rolling 15-min mean) and noise (a dose) are not
evaluated from daily figures; the ledger lists them with the reason, and lists the agents'
judgements of them (exposure.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from central.models import LimitApplied, LimitIn, NotEvaluated, SubstanceIn
from device_profiles import LimitSet, LimitValue, UnitError

DEFAULT_MOLAR_VOLUME_L = 24.45
"""25 °C, 101.325 kPa (hse-standards.md §2.3), for what-if limits on a plant without a set."""

BASIS = {"twa": "daily_mean", "ceiling": "daily_max"}


@dataclass(frozen=True, slots=True)
class PointLimits:
    point_id: int
    point: str
    quantity: str
    unit: str
    limits: tuple[LimitApplied, ...]

    def limit(self, kind: str) -> LimitApplied | None:
        return next((lim for lim in self.limits if lim.kind == kind), None)


@dataclass(frozen=True, slots=True)
class PointRef:
    id: int
    key: str
    quantity: str
    unit: str


def _override(v: LimitIn) -> LimitValue:
    return LimitValue(value=v.value, unit=v.unit, source=v.source)


def resolve_limits(
    points: list[PointRef],
    limit_set: LimitSet | None,
    overrides: Mapping[str, SubstanceIn] | None = None,
) -> tuple[list[PointLimits], list[NotEvaluated]]:
    """The limits of each point with any, and what cannot be evaluated (and why)."""
    overrides = overrides or {}
    molar = limit_set.molar_volume_l if limit_set else DEFAULT_MOLAR_VOLUME_L
    evaluated: list[PointLimits] = []
    skipped: list[NotEvaluated] = []
    for p in points:
        native: dict[str, LimitValue] = {}
        subst = limit_set.substances.get(p.quantity) if limit_set else None
        if subst is not None:
            for kind in BASIS:
                lim = getattr(subst, kind)
                if lim is not None:
                    native[kind] = lim
        if subst is not None and subst.peak is not None and "ceiling" in native:
            # A peak up to the peak value is allowed for a while (OSHA H2S): the day's maximum
            # can only show that the peak value itself was passed; the agent judges the rest.
            ceiling = native["ceiling"]
            native["ceiling"] = subst.peak
            skipped.append(
                NotEvaluated(
                    point=p.key,
                    quantity=p.quantity,
                    reason=f"ceiling {ceiling.value:g} {ceiling.unit} with a peak allowance "
                    f"({subst.peak.value:g} {subst.peak.unit} for at most "
                    f"{subst.peak.max_minutes:g} min, {subst.peak.per_shift} a shift): the day's "
                    "maximum is compared with the peak; whether a peak above the ceiling kept "
                    "to the allowance is judged by the agent (exposure.ceiling and "
                    "exposure.peak, listed under exposure_findings)",
                )
            )
        changed = overrides.get(p.quantity)
        if changed is not None:
            for kind in BASIS:
                given: LimitIn | None = getattr(changed, kind)
                if given is not None:
                    native[kind] = _override(given)
        if subst is not None and subst.stel is not None:
            skipped.append(
                NotEvaluated(
                    point=p.key,
                    quantity=p.quantity,
                    reason="STEL needs a rolling 15-min mean, not a daily figure; the agent "
                    "judges it from every reading (exposure.stel alarms, listed under "
                    "exposure_findings)",
                )
            )
        if (
            limit_set is not None
            and limit_set.noise is not None
            and p.quantity.startswith("noise.")
        ):
            skipped.append(
                NotEvaluated(
                    point=p.key,
                    quantity=p.quantity,
                    reason="noise is judged by a daily dose (LEX,8h), not a mean of levels; the "
                    "agent judges it from every reading (exposure.noise_dose alarms and shift "
                    "reports, listed under exposure_findings)",
                )
            )
        applied: list[LimitApplied] = []
        for kind, lim in native.items():
            try:
                value = lim.in_unit(p.quantity, p.unit, molar)
            except (UnitError, KeyError) as exc:
                skipped.append(
                    NotEvaluated(
                        point=p.key,
                        quantity=p.quantity,
                        reason=f"{kind} limit {lim.value:g} {lim.unit} cannot be expressed in "
                        f"{p.unit!r}: {exc}",
                    )
                )
                continue
            applied.append(
                LimitApplied(
                    kind=kind,
                    basis=BASIS[kind],
                    value=value,
                    unit=p.unit,
                    native_value=lim.value,
                    native_unit=lim.unit,
                    source=lim.source + (" (unverified)" if lim.unverified else ""),
                )
            )
        if applied:
            evaluated.append(PointLimits(p.id, p.key, p.quantity, p.unit, tuple(applied)))
    return evaluated, skipped


__all__ = ["BASIS", "DEFAULT_MOLAR_VOLUME_L", "PointLimits", "PointRef", "resolve_limits"]
