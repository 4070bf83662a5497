"""``/api/v1/audit``: the access audit log for admins and auditors (read, filter, page, export).

There is no route that changes or deletes an entry; the database refuses it too.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from central.api.deps import (
    API_PREFIX,
    Access,
    SessionDep,
    StateDep,
    page_limit,
    permit,
    query_time_us,
)
from central.core.permissions import Action, Category
from central.models import AuditList
from central.queries import list_audit, plant_in_scope

router = APIRouter(prefix=API_PREFIX + "/audit", tags=["audit"])

AuditReader = Annotated[Access, permit((Category.AUDIT, Action.READ))]
AuditExporter = Annotated[Access, permit((Category.AUDIT, Action.EXPORT))]
EXPORT_ROWS = 100_000


@router.get("", response_model=AuditList)
def audit_log(
    state: StateDep,
    access: AuditReader,
    session: SessionDep,
    actor: Annotated[str | None, Query()] = None,
    action: Annotated[
        str | None, Query(description="exact, or a prefix with * (personnel.*)")
    ] = None,
    plant: Annotated[str | None, Query()] = None,
    export: Annotated[bool | None, Query()] = None,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> AuditList:
    """Audit entries newest first: who, what, which records, when, from where."""
    plant_id = plant_in_scope(session, access.scope, plant).id if plant is not None else None
    return list_audit(
        session,
        access.scope,
        actor=actor,
        action=action,
        plant_id=plant_id,
        export=export,
        start_us=query_time_us("start", start),
        end_us=query_time_us("end", end),
        limit=page_limit(state, limit),
        after=cursor,
    )


@router.get("/export")
def export_audit(
    state: StateDep,
    access: AuditExporter,
    session: SessionDep,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    format: Annotated[Literal["csv"], Query()] = "csv",
) -> Response:
    """The audit log of [start, end) as CSV (itself an audited export)."""
    start_us, end_us = query_time_us("start", start), query_time_us("end", end)
    state.trail.export(
        access.principal,
        access.actor,
        action="audit.export",
        category="audit",
        plant_id=None,
        timezone=None,
        records=[],
        details={"format": format, "start": start_us, "end": end_us},
    )
    rows = list_audit(
        session,
        access.scope,
        actor=None,
        action=None,
        plant_id=None,
        export=None,
        start_us=start_us,
        end_us=end_us,
        limit=EXPORT_ROWS,
        after=None,
    ).entries
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "ts", "actor_kind", "actor", "role", "action", "category", "plant",
                "record_count", "records", "export", "out_of_hours", "client_ip", "user_agent"])  # fmt: skip
    for e in rows:
        w.writerow([e.id, e.ts, e.actor_kind, e.actor, e.role, e.action, e.category,
                    e.plant or "", e.record_count, ";".join(e.records), e.export,
                    e.out_of_hours, e.client_ip or "", e.user_agent or ""])  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
