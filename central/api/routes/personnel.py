"""``/api/v1/personnel``: personnel and qualifications per plant, for safety staff and HR
systems (JSON API and CSV import).

Reading personnel needs ``personnel:R``; the personal fields (phone, date of birth, health
notes) read ``***`` unless the role holds ``personal:R`` for the plant. Every read and export is
audited (who, which people, from where); an export is also counted by the export guard.
Writing needs ``personnel:M`` and queues the plant's new qualification list for its agents.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session, col, select

from central.api.deps import (
    API_PREFIX,
    Access,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
    permit,
)
from central.api.state import CentralState
from central.core.clock import local
from central.core.permissions import Action, Category
from central.crud import audit, people
from central.errors import NotFound, TooLarge, Unprocessable
from central.models import (
    Person,
    PersonIn,
    PersonList,
    PersonnelBulk,
    PersonnelChange,
    PersonPublic,
    Plant,
    Qualification,
)
from central.personnel_import import COLUMNS, parse_personnel_csv
from central.queries import list_people, person_public, plant_in_scope, qualifications_of

router = APIRouter(prefix=API_PREFIX + "/personnel", tags=["personnel"])
log = structlog.get_logger("central.personnel")

PersonnelReader = Annotated[Access, permit((Category.PERSONNEL, Action.READ))]
PersonnelExporter = Annotated[Access, permit((Category.PERSONNEL, Action.EXPORT))]
PersonnelManager = Annotated[Access, permit((Category.PERSONNEL, Action.MANAGE))]


def _today(state: CentralState, plant: Plant) -> date:
    """The plant's local date: a qualification expires at the end of its day there."""
    return local(state.clock.now_us(), plant.timezone or state.settings.timezone).date()


def _personal(access: Access) -> bool:
    return access.can(Category.PERSONAL, Action.READ)


@router.get("", response_model=PersonList)
def list_personnel(
    state: StateDep,
    access: PersonnelReader,
    session: SessionDep,
    plant: Annotated[str, Query()],
    qualification: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> PersonList:
    """The plant's people with their qualifications (``expired`` by today's date)."""
    row = plant_in_scope(session, access.scope, plant)
    assert row.id is not None
    personal = _personal(access)
    result = list_people(
        session,
        plant_id=row.id,
        plant_key=row.key,
        personal=personal,
        qualification=qualification,
        limit=page_limit(state, limit),
        after=cursor,
        today=_today(state, row),
    )
    state.trail.record(
        access.actor,
        action="personnel.read",
        category="personnel",
        plant_id=row.id,
        records=[p.person_id for p in result.people],
        details={"personal_fields": personal, "qualification": qualification},
    )
    return result


@router.get("/export")
def export_personnel(
    state: StateDep,
    access: PersonnelExporter,
    session: SessionDep,
    plant: Annotated[str, Query()],
    format: Annotated[Literal["csv"], Query()] = "csv",
) -> Response:
    """The plant's personnel as CSV in the import format (personal fields as the role may
    see them); an audited export."""
    row = plant_in_scope(session, access.scope, plant)
    assert row.id is not None
    personal = _personal(access)
    everyone = session.exec(
        select(Person).where(Person.plant_id == row.id).order_by(col(Person.person_id))
    ).all()
    state.trail.export(
        access.principal,
        access.actor,
        action="personnel.export",
        category="personnel",
        plant_id=row.id,
        timezone=row.timezone,
        records=[p.person_id for p in everyone],
        details={"format": format, "personal_fields": personal},
    )
    quals = qualifications_of(session, everyone)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    today = _today(state, row)
    for p in everyone:
        pub = person_public(p, row.key, quals.get(p.id or 0, []), personal=personal, today=today)
        w.writerow(
            [
                pub.person_id,
                pub.name,
                pub.badge_id or "",
                pub.phone or "",
                pub.date_of_birth or "",
                pub.health_notes or "",
                ";".join(f"{q.name}={q.expires}" for q in pub.qualifications),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="personnel-{row.key}.csv"'},
    )


def _change(
    state: CentralState,
    access: Access,
    session: Session,
    plant: Plant,
    records: list[PersonIn],
    *,
    replace: bool,
    action: str,
) -> PersonnelChange:
    assert plant.id is not None
    written = people.write_people(
        session, plant_id=plant.id, records=records, replace=replace, actor=access.label
    )
    commands = people.sync_plant_personnel(session, plant_id=plant.id)
    audit.record(
        session,
        actor=access.actor,
        now=state.clock.now_us(),
        action=action,
        category="personnel",
        plant_id=plant.id,
        records=[r.person_id for r in records],
        details={
            "created": written.created,
            "updated": written.updated,
            "removed": written.removed,
            "replace": replace,
        },
    )
    session.commit()
    log.info(
        "personnel written",
        plant=plant.key,
        created=written.created,
        updated=written.updated,
        removed=written.removed,
        by=access.label,
    )
    return PersonnelChange(
        plant=plant.key,
        created=written.created,
        updated=written.updated,
        unchanged=written.unchanged,
        removed=written.removed,
        qualifications=written.qualifications,
        sync_commands=commands,
    )


@router.post("/{plant}", response_model=PersonnelChange)
def write_many(
    state: StateDep,
    access: PersonnelManager,
    session: WriteSessionDep,
    plant: str,
    body: PersonnelBulk,
) -> PersonnelChange:
    """Create or update people (an HR system's JSON); ``replace`` removes everyone not listed."""
    row = plant_in_scope(session, access.scope, plant)
    ids = [r.person_id for r in body.records]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        index = ids.index(twice, ids.index(twice) + 1)
        raise Unprocessable(
            f"records[{index}].person_id {twice!r} is listed twice",
            location=["body", "records", index, "person_id"],
        )
    return _change(
        state, access, session, row, body.records, replace=body.replace, action="personnel.write"
    )


async def _read_csv(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"the file exceeds {limit} bytes (max_body_bytes)", error="body_too_large"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{plant}/import", response_model=PersonnelChange)
async def import_csv(
    state: StateDep,
    access: PersonnelManager,
    session: WriteSessionDep,
    request: Request,
    plant: str,
    replace: Annotated[bool, Query()] = False,
) -> PersonnelChange:
    """A CSV file as the body (``Content-Type: text/csv``), whole or not at all; a bad file is
    422 naming each line and column."""
    row = plant_in_scope(session, access.scope, plant)
    data = await _read_csv(request, state.settings.max_body_bytes)
    records = parse_personnel_csv(data, source=f"{row.key} personnel CSV")
    return _change(state, access, session, row, records, replace=replace, action="personnel.import")


@router.get("/{plant}/{person_id}", response_model=PersonPublic)
def get_person(
    state: StateDep, access: PersonnelReader, session: SessionDep, plant: str, person_id: str
) -> PersonPublic:
    row = plant_in_scope(session, access.scope, plant)
    person = session.exec(
        select(Person).where(Person.plant_id == row.id, Person.person_id == person_id)
    ).first()
    if person is None:
        raise NotFound(f"no person {person_id!r} in plant {row.key!r}", location=["person_id"])
    quals = list(session.exec(select(Qualification).where(Qualification.person_pk == person.id)))
    personal = _personal(access)
    state.trail.record(
        access.actor,
        action="personnel.read",
        category="personnel",
        plant_id=row.id,
        records=[person.person_id],
        details={"personal_fields": personal},
    )
    return person_public(person, row.key, quals, personal=personal, today=_today(state, row))


@router.put("/{plant}/{person_id}", response_model=PersonnelChange)
def put_person(
    state: StateDep,
    access: PersonnelManager,
    session: WriteSessionDep,
    plant: str,
    person_id: str,
    body: PersonIn,
) -> PersonnelChange:
    row = plant_in_scope(session, access.scope, plant)
    if body.person_id != person_id:
        raise Unprocessable(
            f"person_id {body.person_id!r} in the body differs from {person_id!r} in the path",
            location=["body", "person_id"],
        )
    return _change(state, access, session, row, [body], replace=False, action="personnel.write")


@router.delete("/{plant}/{person_id}", status_code=204)
def delete_person(
    state: StateDep, access: PersonnelManager, session: WriteSessionDep, plant: str, person_id: str
) -> Response:
    row = plant_in_scope(session, access.scope, plant)
    assert row.id is not None
    people.delete_person(session, plant_id=row.id, person_id=person_id)
    people.sync_plant_personnel(session, plant_id=row.id)
    audit.record(
        session,
        actor=access.actor,
        now=state.clock.now_us(),
        action="personnel.delete",
        category="personnel",
        plant_id=row.id,
        records=[person_id],
    )
    session.commit()
    return Response(status_code=204)
