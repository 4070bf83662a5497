"""``/api/v1/events`` and ``/api/v1/gaps``: what happened and where data is missing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from central.api.deps import (
    API_PREFIX,
    Access,
    AnyCaller,
    ReadingsReader,
    SessionDep,
    StateDep,
    page_limit,
    query_time_us,
    refusal,
)
from central.core.permissions import Action, Category
from central.models import EventList, GapList
from central.queries import list_events, list_gaps, plant_in_scope, point_in_scope
from protocols.sync import EventCategory

# Exposure events are their own data category; every other event category is alarm handling.
DATA_CATEGORY = {c.value: Category.ALARMS for c in EventCategory} | {
    EventCategory.EXPOSURE.value: Category.EXPOSURE
}


def readable_categories(access: Access, wanted: EventCategory | None) -> list[str]:
    """The event categories this caller may read (403 when none, or not the one asked for)."""
    if wanted is not None:
        needed = DATA_CATEGORY[wanted.value]
        access.require(needed, Action.READ)
        return [wanted.value]
    allowed = [c for c, needed in DATA_CATEGORY.items() if access.can(needed, Action.READ)]
    if not allowed:
        raise refusal(access.principal.role, Category.ALARMS, Action.READ)
    return allowed


router = APIRouter(prefix=API_PREFIX, tags=["events"])


@router.get("/events", response_model=EventList)
def events(
    state: StateDep,
    access: AnyCaller,
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
    """Alarm, fault, exposure ... transitions, newest first (the categories the role may read)."""
    categories = readable_categories(access, category)
    scope = access.scope
    plant_id = plant_in_scope(session, scope, plant).id if plant is not None else None
    point_id = point_in_scope(session, scope, point).id if point is not None else None
    return list_events(
        session,
        scope,
        plant_id=plant_id,
        point_id=point_id,
        categories=categories,
        kind=kind,
        start_us=query_time_us("start", start),
        end_us=query_time_us("end", end),
        limit=page_limit(state, limit),
        after=cursor,
    )


@router.get("/gaps", response_model=GapList)
def gaps(
    state: StateDep,
    access: ReadingsReader,
    session: SessionDep,
    plant: Annotated[str | None, Query()] = None,
    point: Annotated[str | None, Query()] = None,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> GapList:
    """Where agents thinned or lost data, newest first; a gap overlapping [start, end) counts."""
    scope = access.scope
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
