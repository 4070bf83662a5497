"""The audit trail of the API: audit rows in short write transactions, and the export guard.

Routes read with a read session and call the trail to write, so an export that takes a while to
build never holds SQLite's write lock. :meth:`AuditTrail.export` runs before an export is built:
it records the export (counted out of hours or not, in the plant's time zone or the server's)
and, when the account's exports out of hours within the window pass the limit, locks the account
(audited as ``account.lock``) and refuses the export with 403 ``account_locked``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import structlog
from sqlalchemy import Engine

from central.core.clock import Clock, out_of_hours
from central.core.config import Settings
from central.core.db import write_session
from central.crud import accounts, audit
from central.crud.audit import Actor
from central.errors import Forbidden

log = structlog.get_logger("central.audit")


class AuditTrail:
    def __init__(self, engine: Engine, settings: Settings, clock: Clock) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def record(
        self,
        actor: Actor,
        *,
        action: str,
        category: str = "",
        plant_id: int | None = None,
        records: Iterable[str] = (),
        record_count: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        with write_session(self.engine) as session:
            audit.record(
                session,
                actor=actor,
                now=self.clock.now_us(),
                action=action,
                category=category,
                plant_id=plant_id,
                records=records,
                record_count=record_count,
                details=details,
            )

    def export(
        self,
        principal: accounts.Principal,
        actor: Actor,
        *,
        action: str,
        category: str,
        plant_id: int | None,
        timezone: str | None,
        records: Iterable[str] = (),
        record_count: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an export; lock the account and raise 403 when it is one too many."""
        s = self.settings
        now = self.clock.now_us()
        tz = timezone or s.timezone
        late = out_of_hours(now, tz, s.office_hours_start, s.office_hours_end)
        ids = list(records)
        refusal: Forbidden | None = None
        with write_session(self.engine) as session:
            burst = 0
            if late:
                since = now - round(s.export_burst_window_s * 1_000_000)
                burst = audit.exports_out_of_hours(session, actor=actor, since_us=since) + 1
            over = late and burst > s.export_burst_count
            audit.record(
                session,
                actor=actor,
                now=now,
                action=action,
                category=category,
                plant_id=plant_id,
                records=ids,
                record_count=record_count,
                export=True,
                out_of_hours=late,
                details={**(details or {}), **({"refused": "account locked"} if over else {})},
            )
            if over:
                reason = (
                    f"{burst} exports within {s.export_burst_window_s:g} s outside office hours "
                    f"{s.office_hours_start}-{s.office_hours_end} ({tz}); the limit is "
                    f"{s.export_burst_count}"
                )
                accounts.lock(session, principal=principal, reason=reason, now=now)
                audit.record(
                    session,
                    actor=actor,
                    now=now,
                    action="account.lock",
                    category="audit",
                    plant_id=plant_id,
                    records=[principal.label],
                    details={
                        "reason": reason,
                        "exports_out_of_hours": burst,
                        "window_s": s.export_burst_window_s,
                        "timezone": tz,
                    },
                )
                refusal = accounts.locked_refusal(
                    replace(principal, locked_ts=now, locked_reason=reason)
                )
        if refusal is not None:
            # The account is flagged for review: one warning, naming it by kind and id only.
            log.warning("account locked", kind=principal.kind, account_id=principal.id)
            raise refusal


__all__ = ["AuditTrail"]
