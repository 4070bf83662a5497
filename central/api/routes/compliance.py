"""``/api/v1/compliance``: the ledger per point and day against the plant's limit set, the
printable report (an audited export), and the what-if over changed limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from central.api.deps import (
    API_PREFIX,
    Access,
    OrgReader,
    SessionDep,
    StateDep,
    period_us,
    permit,
)
from central.api.state import CentralState
from central.compliance import (
    LedgerInputs,
    ledger_csv,
    ledger_for,
    ledger_html,
    local_days,
    what_if,
)
from central.core.epoch import iso
from central.core.permissions import Action, Category
from central.crud.org import check_limit_set
from central.errors import Conflict, Unprocessable
from central.models import Ledger, Plant, Region, WhatIf, WhatIfIn
from central.queries import plant_in_scope
from device_profiles import LimitSet

router = APIRouter(prefix=API_PREFIX + "/compliance", tags=["compliance"])

ComplianceReader = Annotated[Access, permit((Category.COMPLIANCE, Action.READ))]
ComplianceExporter = Annotated[Access, permit((Category.COMPLIANCE, Action.EXPORT))]
DEFAULT_DAYS = 7


class LimitSetSummary(BaseModel):
    id: str
    name: str
    jurisdiction: str


def limit_set_of(state: CentralState, plant: Plant) -> LimitSet | None:
    """The plant's limit set; 409 when it names one this server does not have (any more)."""
    if plant.limit_set is None:
        return None
    try:
        return state.catalog.limit_set(plant.limit_set)
    except KeyError as exc:
        raise Conflict(
            f"plant {plant.key!r} names limit set {plant.limit_set!r}, which is not installed: "
            f"{str(exc).strip(chr(39))}",
            error="limit_set_missing",
            location=["plant"],
        ) from None


def _inputs(
    state: CentralState, session: Session, plant: Plant, start_us: int, end_us: int
) -> LedgerInputs:
    tz = plant.timezone or state.settings.timezone
    region = session.get(Region, plant.region_id)
    return LedgerInputs(
        plant=plant,
        region=region.key if region else "",
        timezone=tz,
        limit_set=limit_set_of(state, plant),
        days=local_days(start_us, end_us, tz),
    )


def _period(state: CentralState, start: datetime | None, end: datetime | None) -> tuple[int, int]:
    return period_us(
        start,
        end,
        now=state.clock.now_us(),
        default_s=DEFAULT_DAYS * 86_400,
        max_s=state.settings.ledger_max_days * 86_400,
    )


@router.get("/limit-sets", response_model=list[LimitSetSummary])
def limit_sets(state: StateDep, _access: OrgReader) -> list[LimitSetSummary]:
    out = []
    for set_id in state.catalog.limit_set_ids():
        ls = state.catalog.limit_set(set_id)
        out.append(LimitSetSummary(id=ls.id, name=ls.name, jurisdiction=ls.jurisdiction))
    return out


@router.get("/ledger", response_model=Ledger)
def ledger(
    state: StateDep,
    access: ComplianceReader,
    session: SessionDep,
    plant: Annotated[str, Query()],
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
) -> Ledger:
    """Per point and local day: samples, mean, maximum and exceedances against the plant's
    limit set (TWA vs the day's mean, ceiling/MAC vs its maximum), each exceedance with the
    raw readings behind it. The period covers whole local days (default: the last 7)."""
    row = plant_in_scope(session, access.scope, plant)
    start_us, end_us = _period(state, start, end)
    return ledger_for(
        session,
        _inputs(state, session, row, start_us, end_us),
        evidence_cap=state.settings.evidence_readings,
    )


@router.get("/report")
def report(
    state: StateDep,
    access: ComplianceExporter,
    session: SessionDep,
    plant: Annotated[str, Query()],
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    format: Annotated[Literal["csv", "html"], Query()] = "html",
) -> Response:
    """The ledger as a printable HTML page or CSV: an export, audited (and counted by the
    export guard)."""
    row = plant_in_scope(session, access.scope, plant)
    start_us, end_us = _period(state, start, end)
    state.trail.export(
        access.principal,
        access.actor,
        action="compliance.export",
        category="compliance",
        plant_id=row.id,
        timezone=row.timezone,
        records=[f"{row.key}:{iso(start_us)}/{iso(end_us)}"],
        details={"format": format, "start": iso(start_us), "end": iso(end_us)},
    )
    result = ledger_for(
        session,
        _inputs(state, session, row, start_us, end_us),
        evidence_cap=state.settings.evidence_readings,
    )
    stem = f"compliance-{row.key}-{result.start[:10]}"
    if format == "csv":
        return Response(
            ledger_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    html = ledger_html(
        result, generated_at=iso(state.clock.now_us()) or "", generated_by=access.label
    )
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{stem}.html"'},
    )


@router.post("/what-if", response_model=WhatIf)
def whatif(
    state: StateDep, access: ComplianceReader, session: SessionDep, body: WhatIfIn
) -> WhatIf:
    """Re-evaluate the ledger of every plant in scope (or ``plants``) with another limit set or
    changed limits; lists the plants that would be pushed out of compliance, with the points and
    days that would breach."""
    check_limit_set(state.catalog, body.limit_set, "limit_set")
    for quantity in body.limits:
        if not quantity.replace(".", "").replace("_", "").isalnum():
            raise Unprocessable(f"limits: {quantity!r} is not a quantity", location=["limits"])
    start_us, end_us = _period(state, body.start, body.end)
    stmt = (
        select(Plant, Region)
        .join(Region, col(Region.id) == Plant.region_id)
        .where(access.scope.filter(col(Plant.id)))
        .order_by(col(Plant.key))
    )
    if body.plants is not None:
        stmt = stmt.where(col(Plant.key).in_(body.plants))
    rows = session.exec(stmt).all()
    if body.plants is not None:
        found = {p.key for p, _r in rows}
        missing = [k for k in body.plants if k not in found]
        if missing:
            raise Unprocessable(f"no plant {missing[0]!r} in your scope", location=["plants"])
    plants = []
    for plant, region in rows:
        limit_set_of(state, plant)  # a plant naming a missing set is refused, not skipped
        tz = plant.timezone or state.settings.timezone
        plants.append((plant, region.key, tz, local_days(start_us, end_us, tz)))
    return what_if(session, plants=plants, body=body, catalog=state.catalog)
