"""What if the limits changed: every plant in scope evaluated against its current limits and
against the new ones over the same days; the plants that would be pushed out of compliance.

``limit_set`` replaces each plant's set; ``limits`` replaces single limits (per quantity) on
top of whichever set applies. A plant is *pushed out* when it has no breach now (or no limit
set) and would have at least one under the what-if.
"""

from __future__ import annotations

from sqlmodel import Session

from central.core.epoch import iso
from central.models import Plant, WhatIf, WhatIfBreach, WhatIfIn, WhatIfPlant
from device_profiles import Catalog, LimitSet

from .days import Day
from .ledger import daily_stats, find_breaches, plant_points
from .limits import BASIS, PointRef, resolve_limits


def what_if(
    session: Session,
    *,
    plants: list[tuple[Plant, str, str, list[Day]]],
    body: WhatIfIn,
    catalog: Catalog,
) -> WhatIf:
    """``plants``: (plant, region key, time zone, its local days) for each plant to judge."""
    new_set: LimitSet | None = catalog.limit_set(body.limit_set) if body.limit_set else None
    out: list[WhatIfPlant] = []
    first = min((d[0].start_us for *_x, d in plants if d), default=0)
    last = max((d[-1].end_us for *_x, d in plants if d), default=0)
    for plant, region, tz, days in plants:
        assert plant.id is not None
        current = catalog.limit_set(plant.limit_set) if plant.limit_set else None
        candidate = new_set or current
        rows = plant_points(session, plant.id)
        refs = [PointRef(p.id, p.key, p.quantity, p.unit) for p in rows]
        keys = {p.id: p.key for p in rows}
        now_limits, _ = resolve_limits(refs, current)
        new_limits, _ = resolve_limits(refs, candidate, body.limits)
        ids = sorted({p.point_id for p in now_limits} | {p.point_id for p in new_limits})
        stats = daily_stats(session, point_ids=ids, days=days, tz=tz)
        now_breaches = find_breaches(stats, now_limits)
        new_breaches = find_breaches(stats, new_limits)
        evaluated_now = current is not None
        evaluated_new = candidate is not None or bool(body.limits)
        compliant_now = (not now_breaches) if evaluated_now else None
        compliant_new = (not new_breaches) if evaluated_new else None
        unit = {p.point_id: p.unit for p in new_limits}
        out.append(
            WhatIfPlant(
                plant=plant.key,
                region=region,
                limit_set_now=current.id if current else None,
                limit_set_what_if=candidate.id if candidate else None,
                compliant_now=compliant_now,
                compliant_what_if=compliant_new,
                pushed_out=compliant_new is False and compliant_now is not False,
                breaches_now=len(now_breaches),
                breaches_what_if=[
                    WhatIfBreach(
                        point=keys[b.point_id],
                        date=days[b.day].day.isoformat(),
                        kind=b.kind,
                        basis=BASIS[b.kind],
                        limit=b.limit,
                        unit=unit[b.point_id],
                        observed=b.observed,
                    )
                    for b in new_breaches
                ],
            )
        )
    return WhatIf(
        start=iso(first) or "",
        end=iso(last) or "",
        plants=out,
        pushed_out=[p.plant for p in out if p.pushed_out],
        out_of_compliance=[p.plant for p in out if p.compliant_what_if is False],
    )


__all__ = ["what_if"]
