"""``/api/v1/fleet/overview``: every plant's live status and KPIs over a period, per region,
ranked by a chosen KPI (definitions and targets: ``central.queries.kpi``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from central.api.deps import API_PREFIX, Access, SessionDep, StateDep, period_us, permit
from central.core.permissions import Action, Category
from central.models import FleetOverview
from central.queries import Period, fleet_overview

router = APIRouter(prefix=API_PREFIX + "/fleet", tags=["fleet"])

FleetReader = Annotated[
    Access, permit((Category.READINGS, Action.READ), (Category.ALARMS, Action.READ))
]


@router.get("/overview", response_model=FleetOverview)
def overview(
    state: StateDep,
    access: FleetReader,
    session: SessionDep,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    ranking: Annotated[str | None, Query()] = None,
) -> FleetOverview:
    """Per plant and region: live status and KPIs over [start, end) (default: the last
    ``kpi_default_days``, 30 days as ISA-18.2 assesses alarm metrics). ``ranking=<kpi>``
    orders the plants best first (e.g. ``ack_within_target_pct``)."""
    s = state.settings
    now = state.clock.now_us()
    start_us, end_us = period_us(
        start, end, now=now, default_s=s.kpi_default_days * 86_400, max_s=366 * 86_400
    )
    return fleet_overview(
        session,
        access.scope,
        period=Period(start_us, end_us, now),
        settings=s,
        region=region,
        ranking=ranking,
    )
