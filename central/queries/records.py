"""Events and gaps, newest first, filtered by plant, point, category, kind and time."""

from __future__ import annotations

from sqlalchemy import Table, select, tuple_
from sqlmodel import Session

from central.core.epoch import iso
from central.models import (
    Agent,
    Event,
    EventList,
    EventPublic,
    Gap,
    GapList,
    GapPublic,
    Plant,
    Point,
)

from . import cursor as cursors
from .scope import Scope

event_t: Table = Event.__table__  # type: ignore[attr-defined]
gap_t: Table = Gap.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]
plant_t: Table = Plant.__table__  # type: ignore[attr-defined]
agent_t: Table = Agent.__table__  # type: ignore[attr-defined]


def list_events(
    session: Session,
    scope: Scope,
    *,
    plant_id: int | None,
    point_id: int | None,
    categories: list[str] | None,
    kind: str | None,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    after: str | None,
) -> EventList:
    e = event_t
    pt = point_t.alias("pt")
    stmt = (
        select(
            e,
            plant_t.c.key.label("plant_key"),
            agent_t.c.key.label("agent_key"),
            pt.c.key.label("point_key"),
        )
        .join(plant_t, plant_t.c.id == e.c.plant_id)
        .join(agent_t, agent_t.c.id == e.c.agent_id)
        .outerjoin(pt, pt.c.id == e.c.point_id)
        .where(scope.filter(e.c.plant_id))
    )
    if plant_id is not None:
        stmt = stmt.where(e.c.plant_id == plant_id)
    if point_id is not None:
        stmt = stmt.where(e.c.point_id == point_id)
    if categories is not None:
        stmt = stmt.where(e.c.category.in_(categories))
    if kind is not None:
        stmt = stmt.where(e.c.kind == kind)
    if start_us is not None:
        stmt = stmt.where(e.c.ts >= start_us)
    if end_us is not None:
        stmt = stmt.where(e.c.ts < end_us)
    if after is not None:
        key = cursors.decode(after, 3)
        stmt = stmt.where(tuple_(e.c.ts, e.c.agent_id, e.c.seq) < tuple_(*key))
    stmt = stmt.order_by(e.c.ts.desc(), e.c.agent_id.desc(), e.c.seq.desc()).limit(limit + 1)
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    events = [
        EventPublic(
            plant=r.plant_key,
            agent_id=r.agent_key,
            seq=r.seq,
            point=r.point_key,
            event_id=r.event_id,
            category=r.category,
            kind=r.kind,
            transition=r.transition,
            state=r.state,
            priority=r.priority,
            value=r.value,
            limit=r.limit_value,
            ts=iso(r.ts) or "",
            actor=r.actor,
            message=r.message,
            details=r.details or {},
        )
        for r in rows[:limit]
    ]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = cursors.encode(last.ts, last.agent_id, last.seq)
    return EventList(events=events, next_cursor=nxt)


def list_gaps(
    session: Session,
    scope: Scope,
    *,
    plant_id: int | None,
    point_id: int | None,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    after: str | None,
) -> GapList:
    g = gap_t
    pt = point_t.alias("pt")
    stmt = (
        select(
            g,
            plant_t.c.key.label("plant_key"),
            agent_t.c.key.label("agent_key"),
            pt.c.key.label("point_key"),
        )
        .join(plant_t, plant_t.c.id == g.c.plant_id)
        .join(agent_t, agent_t.c.id == g.c.agent_id)
        .outerjoin(pt, pt.c.id == g.c.point_id)
        .where(scope.filter(g.c.plant_id))
    )
    if plant_id is not None:
        stmt = stmt.where(g.c.plant_id == plant_id)
    if point_id is not None:
        stmt = stmt.where(g.c.point_id == point_id)
    # A gap overlapping [start, end) is in range.
    if start_us is not None:
        stmt = stmt.where(g.c.to_ts >= start_us)
    if end_us is not None:
        stmt = stmt.where(g.c.from_ts < end_us)
    if after is not None:
        key = cursors.decode(after, 3)
        stmt = stmt.where(tuple_(g.c.from_ts, g.c.agent_id, g.c.seq) < tuple_(*key))
    stmt = stmt.order_by(g.c.from_ts.desc(), g.c.agent_id.desc(), g.c.seq.desc()).limit(limit + 1)
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    gaps = [
        GapPublic(
            plant=r.plant_key,
            agent_id=r.agent_key,
            seq=r.seq,
            point=r.point_key,
            stream=r.stream,
            from_ts=iso(r.from_ts) or "",
            to_ts=iso(r.to_ts) or "",
            count=r.count,
            reason=r.reason,
        )
        for r in rows[:limit]
    ]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = cursors.encode(last.from_ts, last.agent_id, last.seq)
    return GapList(gaps=gaps, next_cursor=nxt)
