"""Central's alarm list: current states, filtered and ordered most urgent first.

Order: priority (critical first), then the newest transition, then alarm id; the cursor names
the last row of a page (``rank:ts:<alarm id, base64>``) so pages never skip or repeat a row.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from sqlalchemy import Table, case, select, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from central.core.classifications import PRIORITY_RANK
from central.core.epoch import iso
from central.models import (
    ACTIVE_STATES,
    SHELVED_STATES,
    UNACKED_STATES,
    Agent,
    AlarmList,
    AlarmNote,
    AlarmNotePublic,
    AlarmPublic,
    AlarmState,
    Area,
    Plant,
    Point,
)

from . import cursor as cursors
from .scope import Scope

StateFilter = Literal["active", "unacked", "shelved", "all"]
STATES_OF: dict[str, tuple[str, ...] | None] = {
    "active": ACTIVE_STATES,
    "unacked": UNACKED_STATES,
    "shelved": SHELVED_STATES,
    "all": None,
}

alarm_t: Table = AlarmState.__table__  # type: ignore[attr-defined]
note_t: Table = AlarmNote.__table__  # type: ignore[attr-defined]
plant_t: Table = Plant.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]
area_t: Table = Area.__table__  # type: ignore[attr-defined]
agent_t: Table = Agent.__table__  # type: ignore[attr-defined]


def priority_rank() -> ColumnElement[int]:
    return case(
        *((alarm_t.c.priority == name, rank) for name, rank in PRIORITY_RANK.items()), else_=-1
    )


def _cursor(rank: int, ts: int, alarm_id: str) -> str:
    return f"{rank}:{ts}:{base64.urlsafe_b64encode(alarm_id.encode()).decode()}"


def _decode(cursor: str) -> tuple[int, int, str]:
    try:
        rank, ts, b64 = cursor.split(":", 2)
        return int(rank), int(ts), base64.urlsafe_b64decode(b64.encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise cursors.refused(cursor) from None


def alarm_rows(session: Session, where: list[ColumnElement[bool]], limit: int) -> list[Any]:
    """Alarm rows matching ``where``, most urgent first, with their keys and priority rank."""
    stmt = (
        select(
            alarm_t,
            plant_t.c.key.label("plant_key"),
            point_t.c.key.label("point_key"),
            area_t.c.key.label("area_key"),
            agent_t.c.key.label("agent_key"),
            priority_rank().label("rank"),
        )
        .join(plant_t, plant_t.c.id == alarm_t.c.plant_id)
        .join(agent_t, agent_t.c.id == alarm_t.c.agent_id)
        .outerjoin(point_t, point_t.c.id == alarm_t.c.point_id)
        .outerjoin(area_t, area_t.c.id == point_t.c.area_id)
        .where(*where)
        .order_by(priority_rank().desc(), alarm_t.c.last_ts.desc(), alarm_t.c.alarm_id.desc())
        .limit(limit)
    )
    return list(session.exec(stmt).all())  # type: ignore[call-overload]


def public(row: Any) -> AlarmPublic:
    """An alarm row joined with its plant, point, area and agent keys, as the API shows it."""
    return AlarmPublic(
        alarm_id=row.alarm_id,
        plant=row.plant_key,
        point=row.point_key,
        area=row.area_key,
        category=row.category,
        kind=row.kind,
        priority=row.priority,
        state=row.state,
        active=row.active,
        acked=row.acked,
        latched=row.latched,
        shelved_until=iso(row.shelved_until_ts),
        raised_at=iso(row.raised_ts),
        acked_at=iso(row.acked_ts),
        cleared_at=iso(row.cleared_ts),
        last_transition=row.last_transition,
        last_at=iso(row.last_ts) or "",
        last_actor=row.last_actor,
        value=row.value,
        limit=row.limit_value,
        message=row.message,
        agent_id=row.agent_key,
    )


def list_alarms(
    session: Session,
    scope: Scope,
    *,
    plant_id: int | None,
    state: StateFilter,
    priority: str | None,
    categories: list[str],
    limit: int,
    after: str | None,
) -> AlarmList:
    where: list[ColumnElement[bool]] = [
        scope.filter(alarm_t.c.plant_id),
        alarm_t.c.category.in_(categories),
    ]
    if plant_id is not None:
        where.append(alarm_t.c.plant_id == plant_id)
    states = STATES_OF[state]
    if states is not None:
        where.append(alarm_t.c.state.in_(states))
    if priority is not None:
        where.append(alarm_t.c.priority == priority)
    if after is not None:
        key = _decode(after)
        where.append(tuple_(priority_rank(), alarm_t.c.last_ts, alarm_t.c.alarm_id) < tuple_(*key))
    rows = alarm_rows(session, where, limit + 1)
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = _cursor(last.rank, last.last_ts, last.alarm_id)
    return AlarmList(alarms=[public(r) for r in rows[:limit]], next_cursor=nxt)


def alarm_notes(session: Session, *, alarm_id: str, limit: int) -> list[AlarmNotePublic]:
    rows = session.exec(
        select(note_t)  # type: ignore[call-overload]
        .where(note_t.c.alarm_id == alarm_id)
        .order_by(note_t.c.ts.desc(), note_t.c.id.desc())
        .limit(limit)
    ).all()
    return [
        AlarmNotePublic(
            ts=iso(r.ts) or "", actor=r.actor, action=r.action, text=r.text, command_id=r.command_id
        )
        for r in rows
    ]


__all__ = ["STATES_OF", "StateFilter", "alarm_notes", "alarm_rows", "list_alarms", "public"]
