"""``/api/v1/events`` and ``/api/v1/gaps``: what happened and where data is missing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from central.api.deps import API_PREFIX, SessionDep, StateDep, UserScope, page_limit, query_time_us
from central.models import EventList, GapList
from central.queries import list_events, list_gaps, plant_in_scope, point_in_scope
from protocols.sync import EventCategory

router = APIRouter(prefix=API_PREFIX, tags=["events"])


@router.get("/events", response_model=EventList)
def events(
    state: StateDep,
    scope: UserScope,
    session: SessionDep,
    plant: Annotated[str | None, Query()] = None,
    point: Annotated[str | None, Query()] = None,
    category: Annotated[EventCategory | None, Query()] = None,
    kind: Annotated[str | None, Query()] = None,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> EventList:
    """Alarm, fault, exposure ... transitions, newest first."""
    plant_id = plant_in_scope(session, scope, plant).id if plant is not None else None
    point_id = point_in_scope(session, scope, point).id if point is not None else None
    return list_events(
        session,
        scope,
        plant_id=plant_id,
        point_id=point_id,
        category=category.value if category else None,
        kind=kind,
        start_us=query_time_us("start", start),
        end_us=query_time_us("end", end),
        limit=page_limit(state, limit),
        after=cursor,
    )


@router.get("/gaps", response_model=GapList)
def gaps(
    state: StateDep,
    scope: UserScope,
    session: SessionDep,
    plant: Annotated[str | None, Query()] = None,
    point: Annotated[str | None, Query()] = None,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> GapList:
    """Where agents thinned or lost data, newest first; a gap overlapping [start, end) counts."""
    plant_id = plant_in_scope(session, scope, plant).id if plant is not None else None
    point_id = point_in_scope(session, scope, point).id if point is not None else None
    return list_gaps(
        session,
        scope,
        plant_id=plant_id,
        point_id=point_id,
        start_us=query_time_us("start", start),
        end_us=query_time_us("end", end),
        limit=page_limit(state, limit),
        after=cursor,
    )
