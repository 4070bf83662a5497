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
    period_us,
)
from central.core.epoch import now_us
from central.models import PointList, Series
from central.queries import BucketName, list_points, plant_in_scope, point_in_scope, series

router = APIRouter(prefix=API_PREFIX + "/points", tags=["points"])

DEFAULT_SPAN_S = 24 * 3600


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
    start_us, end_us = period_us(start, end, now=now_us(), default_s=DEFAULT_SPAN_S)
    return series(
        session,
        point,
        start_us=start_us,
        end_us=end_us,
        bucket=bucket,
        limit=page_limit(state, limit),
        after=cursor,
    )
