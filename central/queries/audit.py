"""The audit log, newest first, filtered by actor, action, plant and time; keyset pages."""

from __future__ import annotations

from sqlalchemy import Table, select, tuple_
from sqlmodel import Session

from central.core.epoch import iso
from central.models import AuditEntry, AuditList, AuditPublic, Plant

from . import cursor as cursors
from .scope import Scope

audit_t: Table = AuditEntry.__table__  # type: ignore[attr-defined]
plant_t: Table = Plant.__table__  # type: ignore[attr-defined]


def list_audit(
    session: Session,
    scope: Scope,
    *,
    actor: str | None,
    action: str | None,
    plant_id: int | None,
    export: bool | None,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    after: str | None,
) -> AuditList:
    a = audit_t
    stmt = select(a, plant_t.c.key.label("plant_key")).outerjoin(
        plant_t, plant_t.c.id == a.c.plant_id
    )
    if scope.plant_ids is not None:
        # A scoped reader sees its plants' rows; fleet-wide rows (no plant) only at fleet scope.
        stmt = stmt.where(scope.filter(a.c.plant_id))
    if actor is not None:
        stmt = stmt.where(a.c.actor == actor)
    if action is not None:
        stmt = stmt.where(
            a.c.action.like(action.replace("*", "%")) if "*" in action else a.c.action == action
        )
    if plant_id is not None:
        stmt = stmt.where(a.c.plant_id == plant_id)
    if export is not None:
        stmt = stmt.where(a.c.export == export)
    if start_us is not None:
        stmt = stmt.where(a.c.ts >= start_us)
    if end_us is not None:
        stmt = stmt.where(a.c.ts < end_us)
    if after is not None:
        key = cursors.decode(after, 2)
        stmt = stmt.where(tuple_(a.c.ts, a.c.id) < tuple_(*key))
    rows = session.exec(  # type: ignore[call-overload]
        stmt.order_by(a.c.ts.desc(), a.c.id.desc()).limit(limit + 1)
    ).all()
    entries = [
        AuditPublic(
            id=r.id,
            ts=iso(r.ts) or "",
            actor_kind=r.actor_kind,
            actor=r.actor,
            role=r.role,
            action=r.action,
            category=r.category,
            plant=r.plant_key,
            records=list(r.records or []),
            record_count=r.record_count,
            export=r.export,
            out_of_hours=r.out_of_hours,
            client_ip=r.client_ip,
            user_agent=r.user_agent,
            details=r.details or {},
        )
        for r in rows[:limit]
    ]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = cursors.encode(last.ts, last.id)
    return AuditList(entries=entries, next_cursor=nxt)


__all__ = ["list_audit"]
