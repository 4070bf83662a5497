"""The access audit: append a row (never change one), and the export guard's count.

Every read of personal data, every export, every lock and unlock is a row of ``audit_log``: who
(account kind, name, role), what (action, category, plant), which records, when, from where
(client IP and user agent). Rows are only ever inserted; the database refuses UPDATE and DELETE.

The export guard (:func:`export_burst`): exports out of office hours are counted per account
over a sliding window; one more than ``export_burst_count`` within ``export_burst_window_s``
locks the account (defaults: more than 5 in 10 minutes outside 07:00-19:00).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from central.models import AuditEntry

if TYPE_CHECKING:
    from .accounts import Principal  # accounts audits its unlocks: imports this module


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from (the peer address as the server sees it)."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an audit row names: an account, or the CLI / the system."""

    kind: str
    name: str
    id: int | None = None
    role: str = ""
    client: ClientInfo = field(default_factory=ClientInfo)

    @classmethod
    def of(cls, principal: Principal, client: ClientInfo) -> Actor:
        return cls(principal.kind, principal.name, principal.id, principal.role.value, client)


def record(
    session: Session,
    *,
    actor: Actor,
    now: int,
    action: str,
    category: str = "",
    plant_id: int | None = None,
    records: Iterable[str] = (),
    record_count: int | None = None,
    export: bool = False,
    out_of_hours: bool = False,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    ids = list(records)
    entry = AuditEntry(
        ts=now,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor=actor.name[:120],
        role=actor.role,
        action=action,
        category=category,
        plant_id=plant_id,
        records=ids,
        record_count=len(ids) if record_count is None else record_count,
        export=export,
        out_of_hours=out_of_hours,
        client_ip=actor.client.ip[:64] if actor.client.ip else None,
        user_agent=actor.client.user_agent[:300] if actor.client.user_agent else None,
        details=dict(details or {}),
    )
    session.add(entry)
    session.flush()
    return entry


def exports_out_of_hours(session: Session, *, actor: Actor, since_us: int) -> int:
    """Exports out of hours by this account since ``since_us`` (index ``ix_audit_actor_ts``)."""
    return session.exec(
        select(func.count()).where(
            AuditEntry.actor_kind == actor.kind,
            AuditEntry.actor_id == actor.id,
            col(AuditEntry.ts) > since_us,
            col(AuditEntry.export),
            col(AuditEntry.out_of_hours),
        )
    ).one()


__all__ = ["Actor", "ClientInfo", "exports_out_of_hours", "record"]
