"""``/api/v1/points``: the registry of points and their series (raw or bucketed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from central.api.deps import (
    API_PREFIX,
    OrgReader,
    ReadingsReader,
    SessionDep,
    StateDep,
    page_limit,
    query_time_us,
)
from central.core.epoch import now_us
from central.errors import Unprocessable
from central.models import PointList, Series
from central.queries import BucketName, list_points, plant_in_scope, point_in_scope, series

router = APIRouter(prefix=API_PREFIX + "/points", tags=["points"])

DEFAULT_SPAN_US = 24 * 3600 * 1_000_000


@router.get("", response_model=PointList)
def points(
    state: StateDep,
    access: OrgReader,
    session: SessionDep,
    plant: Annotated[str | None, Query()] = None,
    quantity: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> PointList:
    plant_row = plant_in_scope(session, access.scope, plant) if plant is not None else None
    return list_points(
        session,
        access.scope,
        plant=plant_row,
        quantity=quantity,
        limit=page_limit(state, limit),
        after=cursor,
    )


@router.get("/{point_id:path}/readings", response_model=Series)
def readings(
    state: StateDep,
    access: ReadingsReader,
    session: SessionDep,
    point_id: str,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    bucket: Annotated[BucketName, Query()] = "raw",
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> Series:
    """Readings of one point in [start, end) (default: the last 24 h), oldest first.

    ``bucket=1m|1h|1d`` aggregates server-side: min, max, avg and count per UTC-aligned bucket.
    Pass ``next_cursor`` back as ``cursor`` for the next page.
    """
    point = point_in_scope(session, access.scope, point_id)
    end_us = query_time_us("end", end)
    if end_us is None:
        end_us = now_us()
    start_us = query_time_us("start", start)
    if start_us is None:
        start_us = end_us - DEFAULT_SPAN_US
    if start_us >= end_us:
        raise Unprocessable("start must be before end", location=["query", "start"])
    return series(
        session,
        point,
        start_us=start_us,
        end_us=end_us,
        bucket=bucket,
        limit=page_limit(state, limit),
        after=cursor,
    )
