"""Values of points: the latest per point, raw series and server-side time buckets.

Buckets are aligned to the Unix epoch in UTC (a ``1d`` bucket starts at 00:00 UTC) and computed
by integer arithmetic on the microsecond timestamps, the same SQL on SQLite and PostgreSQL. A
bucket's ``count`` is its readings with a value; bad reads carry none and count in ``samples``.
Buckets also hold the readings an agent thinned into per-minute aggregates when its outbox ran
short of disk (their count, extremes and mean; ``thinned`` says how many), so a trend over an
outage shows the thinned stretch instead of a hole. Raw series hold raw readings only; the
thinned stretches are listed by ``/api/v1/gaps``.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import BigInteger, Table, and_, case, func, literal, select, tuple_, union_all
from sqlmodel import Session

from central.core.epoch import iso
from central.models import (
    QUALITY_NAME,
    Area,
    Bucket,
    Device,
    LatestList,
    LatestReading,
    LatestValue,
    Plant,
    Point,
    PointList,
    PointPublic,
    Reading,
    ReadingAggregate,
    ReadingPoint,
    Series,
)

from . import cursor as cursors
from .scope import Scope

BucketName = Literal["raw", "1m", "1h", "1d"]
BUCKET_US = {"1m": 60_000_000, "1h": 3_600_000_000, "1d": 86_400_000_000}

reading_t: Table = Reading.__table__  # type: ignore[attr-defined]
aggregate_t: Table = ReadingAggregate.__table__  # type: ignore[attr-defined]
latest_t: Table = LatestReading.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]
device_t: Table = Device.__table__  # type: ignore[attr-defined]
area_t: Table = Area.__table__  # type: ignore[attr-defined]
plant_t: Table = Plant.__table__  # type: ignore[attr-defined]


def latest_values(
    session: Session,
    plant: Plant,
    *,
    area: str | None,
    quantity: str | None,
    limit: int,
    now_us: int,
) -> LatestList:
    """Every point of ``plant`` (filtered) with its newest reading, None where it has none."""
    stmt = (
        select(
            point_t.c.key,
            device_t.c.key,
            area_t.c.key,
            point_t.c.name,
            point_t.c.quantity,
            point_t.c.unit,
            latest_t.c.value,
            latest_t.c.quality,
            latest_t.c.reason,
            latest_t.c.source_ts,
            latest_t.c.received_ts,
        )
        .select_from(point_t)
        .join(device_t, device_t.c.id == point_t.c.device_id)
        .outerjoin(area_t, area_t.c.id == point_t.c.area_id)
        .outerjoin(latest_t, latest_t.c.point_id == point_t.c.id)
        .where(point_t.c.plant_id == plant.id)
    )
    if area is not None:
        stmt = stmt.where(area_t.c.key == area)
    if quantity is not None:
        stmt = stmt.where(point_t.c.quantity == quantity)
    rows = session.exec(stmt.order_by(point_t.c.key).limit(limit + 1)).all()  # type: ignore[call-overload]
    values = [
        LatestValue(
            point=r[0],
            device=r[1],
            area=r[2],
            name=r[3],
            quantity=r[4],
            unit=r[5],
            value=r[6],
            quality=QUALITY_NAME.get(r[7]) if r[7] is not None else None,
            reason=r[8],
            source_ts=iso(r[9]),
            received_at=iso(r[10]),
            age_s=round((now_us - r[9]) / 1e6, 3) if r[9] is not None else None,
        )
        for r in rows[:limit]
    ]
    return LatestList(plant=plant.key, points=values, truncated=len(rows) > limit)


def list_points(
    session: Session,
    scope: Scope,
    *,
    plant: Plant | None,
    quantity: str | None,
    limit: int,
    after: str | None,
) -> PointList:
    stmt = (
        select(
            point_t,
            plant_t.c.key.label("plant_key"),
            device_t.c.key.label("device_key"),
            area_t.c.key.label("area_key"),
        )
        .join(plant_t, plant_t.c.id == point_t.c.plant_id)
        .join(device_t, device_t.c.id == point_t.c.device_id)
        .outerjoin(area_t, area_t.c.id == point_t.c.area_id)
        .where(scope.filter(point_t.c.plant_id))
    )
    if plant is not None:
        stmt = stmt.where(point_t.c.plant_id == plant.id)
    if quantity is not None:
        stmt = stmt.where(point_t.c.quantity == quantity)
    if after is not None:
        (after_id,) = cursors.decode(after, 1)
        stmt = stmt.where(point_t.c.id > after_id)
    rows = session.exec(stmt.order_by(point_t.c.id).limit(limit + 1)).all()  # type: ignore[call-overload]
    points = [
        PointPublic(
            point=r.key,
            plant=r.plant_key,
            device=r.device_key,
            area=r.area_key,
            zone=r.zone,
            name=r.name,
            quantity=r.quantity,
            unit=r.unit,
            profile=r.profile,
            range_low=r.range_low,
            range_high=r.range_high,
            limits=r.limits or {},
            registered=r.registered,
            measured=r.measured,
        )
        for r in rows[:limit]
    ]
    nxt = cursors.encode(rows[limit - 1].id) if len(rows) > limit else None
    return PointList(points=points, next_cursor=nxt)


def series(
    session: Session,
    point: Point,
    *,
    start_us: int,
    end_us: int,
    bucket: BucketName,
    limit: int,
    after: str | None,
) -> Series:
    """Readings of ``point`` in [start, end), raw or bucketed, oldest first, one page."""
    assert point.id is not None
    base = Series(
        point=point.key,
        quantity=point.quantity,
        unit=point.unit,
        bucket=bucket,
        start=iso(start_us) or "",
        end=iso(end_us) or "",
    )
    in_range = and_(
        reading_t.c.point_id == point.id,
        reading_t.c.source_ts >= start_us,
        reading_t.c.source_ts < end_us,
    )
    if bucket == "raw":
        stmt = select(
            reading_t.c.source_ts,
            reading_t.c.agent_id,
            reading_t.c.seq,
            reading_t.c.value,
            reading_t.c.quality,
            reading_t.c.reason,
            reading_t.c.received_ts,
        ).where(in_range)
        if after is not None:
            key = cursors.decode(after, 3)
            stmt = stmt.where(
                tuple_(reading_t.c.source_ts, reading_t.c.agent_id, reading_t.c.seq) > tuple_(*key)
            )
        stmt = stmt.order_by(reading_t.c.source_ts, reading_t.c.agent_id, reading_t.c.seq).limit(
            limit + 1
        )
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
        base.readings = [
            ReadingPoint(
                ts=iso(r.source_ts) or "",
                value=r.value,
                quality=QUALITY_NAME[r.quality],
                reason=r.reason,
                received_at=iso(r.received_ts) or "",
            )
            for r in rows[:limit]
        ]
        if len(rows) > limit:
            last = rows[limit - 1]
            base.next_cursor = cursors.encode(last.source_ts, last.agent_id, last.seq)
        return base

    width = literal(BUCKET_US[bucket], BigInteger)
    lo = start_us
    if after is not None:
        (after_start,) = cursors.decode(after, 1)
        lo = max(start_us, after_start + BUCKET_US[bucket])
    r, a = reading_t, aggregate_t
    raw_start = ((r.c.source_ts // width) * width).label("b")
    raw = (
        select(
            raw_start,
            func.min(r.c.value).label("lo"),
            func.max(r.c.value).label("hi"),
            func.sum(r.c.value).label("total"),
            func.count(r.c.value).label("valued"),
            func.count().label("samples"),
            literal(0, BigInteger).label("thinned"),
        )
        .where(r.c.point_id == point.id, r.c.source_ts >= lo, r.c.source_ts < end_us)
        .group_by(raw_start)
    )
    thin_start = ((a.c.from_ts // width) * width).label("b")
    thin = (
        select(
            thin_start,
            func.min(a.c.min),
            func.max(a.c.max),
            func.sum(a.c.mean * a.c.count),
            func.sum(case((a.c.mean.is_not(None), a.c.count), else_=0)),
            func.sum(a.c.count),
            func.sum(a.c.count),
        )
        .where(a.c.point_id == point.id, a.c.from_ts >= lo, a.c.from_ts < end_us)
        .group_by(thin_start)
    )
    both = union_all(raw, thin).subquery()
    stmt = (
        select(
            both.c.b,
            func.min(both.c.lo),
            func.max(both.c.hi),
            func.sum(both.c.total),
            func.sum(both.c.valued),
            func.sum(both.c.samples),
            func.sum(both.c.thinned),
        )
        .group_by(both.c.b)
        .order_by(both.c.b)
        .limit(limit + 1)
    )
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    base.buckets = [
        Bucket(
            start=iso(b) or "",
            min=low,
            max=high,
            avg=float(total) / int(valued) if valued else None,
            count=int(valued),
            samples=int(samples),
            thinned=int(thinned),
        )
        for b, low, high, total, valued, samples, thinned in rows[:limit]
    ]
    if len(rows) > limit:
        base.next_cursor = cursors.encode(rows[limit - 1][0])
    return base
