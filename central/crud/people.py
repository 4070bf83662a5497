"""Personnel and qualifications of a plant, and the lists its agents get.

Writes come from the JSON API (an HR system), a CSV import or the CLI; each names the actor for
the audit trail. After any change, :func:`sync_plant_personnel` queues a ``personnel.sync``
command for every active agent of the plant whose last list differs: only ``person_id``,
qualification and expiry date travel (no names, no personal or health data at the edge).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, delete, select

from central.core.epoch import now_us
from central.errors import NotFound
from central.models import Agent, Person, PersonIn, PersonnelSync, Qualification
from protocols.sync import CommandKind

from .commands import enqueue_command


@dataclass(frozen=True, slots=True)
class PeopleWritten:
    created: int
    updated: int
    unchanged: int
    removed: int
    qualifications: int


def _same(person: Person, quals: dict[str, date], record: PersonIn) -> bool:
    return (
        person.name == record.name
        and person.badge_id == record.badge_id
        and person.phone == record.phone
        and person.date_of_birth == record.date_of_birth
        and person.health_notes == record.health_notes
        and quals == {q.name: q.expires for q in record.qualifications}
    )


def write_people(
    session: Session,
    *,
    plant_id: int,
    records: list[PersonIn],
    replace: bool,
    actor: str,
) -> PeopleWritten:
    """Create or update ``records`` in the plant; with ``replace``, remove everyone else.

    A person id given twice is the caller's mistake and is refused before this (see
    ``central.personnel``); here the last one would win.
    """
    now = now_us()
    existing = {
        p.person_id: p for p in session.exec(select(Person).where(Person.plant_id == plant_id))
    }
    quals: dict[int, dict[str, date]] = defaultdict(dict)
    if existing:
        ids = [p.id for p in existing.values()]
        for q in session.exec(select(Qualification).where(col(Qualification.person_pk).in_(ids))):
            quals[q.person_pk][q.name] = q.expires
    created = updated = unchanged = 0
    for record in records:
        person = existing.get(record.person_id)
        if person is not None:
            assert person.id is not None
            if _same(person, quals.get(person.id, {}), record):
                unchanged += 1
                continue
            updated += 1
            session.exec(delete(Qualification).where(col(Qualification.person_pk) == person.id))
        else:
            created += 1
            person = Person(plant_id=plant_id, person_id=record.person_id, name="", created_ts=now,
                            updated_ts=now, updated_by=actor)  # fmt: skip
        person.name = record.name
        person.badge_id = record.badge_id
        person.phone = record.phone
        person.date_of_birth = record.date_of_birth
        person.health_notes = record.health_notes
        person.updated_ts = now
        person.updated_by = actor
        session.add(person)
        session.flush()
        assert person.id is not None
        for given in record.qualifications:
            session.add(Qualification(person_pk=person.id, name=given.name, expires=given.expires))
    removed = 0
    if replace:
        keep = {r.person_id for r in records}
        gone = [p.id for key, p in existing.items() if key not in keep]
        if gone:
            session.exec(delete(Qualification).where(col(Qualification.person_pk).in_(gone)))
            session.exec(delete(Person).where(col(Person.id).in_(gone)))
            removed = len(gone)
    session.flush()
    return PeopleWritten(
        created=created,
        updated=updated,
        unchanged=unchanged,
        removed=removed,
        qualifications=sum(len(r.qualifications) for r in records),
    )


def delete_person(session: Session, *, plant_id: int, person_id: str) -> None:
    person = session.exec(
        select(Person).where(Person.plant_id == plant_id, Person.person_id == person_id)
    ).first()
    if person is None:
        raise NotFound(f"no person {person_id!r} in this plant", location=["person_id"])
    session.exec(delete(Qualification).where(col(Qualification.person_pk) == person.id))
    session.exec(delete(Person).where(col(Person.id) == person.id))
    session.flush()


def plant_qualifications(session: Session, *, plant_id: int) -> list[dict[str, str]]:
    """The plant's list for the edge: person id, qualification, expiry; sorted, nothing more."""
    rows = session.exec(
        select(col(Person.person_id), col(Qualification.name), col(Qualification.expires))
        .join(Qualification, col(Qualification.person_pk) == Person.id)
        .where(Person.plant_id == plant_id)
        .order_by(col(Person.person_id), col(Qualification.name))
    ).all()
    return [
        {"person_id": pid, "qualification": name, "expires": expires.isoformat()}
        for pid, name, expires in rows
    ]


def sync_plant_personnel(session: Session, *, plant_id: int) -> list[str]:
    """Queue ``personnel.sync`` for each active agent whose last list differs; returns the ids.

    An agent that never got a list gets none while the plant has nobody.
    """
    records = plant_qualifications(session, plant_id=plant_id)
    digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
    agents = session.exec(
        select(Agent)
        .where(Agent.plant_id == plant_id, col(Agent.is_active))
        .order_by(col(Agent.id))
    ).all()
    queued: list[str] = []
    for agent in agents:
        assert agent.id is not None
        last = session.get(PersonnelSync, agent.id)
        if (last is None and not records) or (last is not None and last.digest == digest):
            continue
        command = enqueue_command(
            session,
            agent_id=agent.id,
            kind=CommandKind.PERSONNEL_SYNC,
            payload={"records": records},
            issued_by="system:personnel",
        )
        if last is None:
            last = PersonnelSync(
                agent_id=agent.id, digest=digest, command_id=command.id, ts=now_us(), records=0
            )
        last.digest, last.command_id, last.ts, last.records = (
            digest,
            command.id,
            now_us(),
            len(records),
        )
        session.add(last)
        queued.append(command.id)
    session.flush()
    return queued


__all__ = [
    "PeopleWritten",
    "delete_person",
    "plant_qualifications",
    "sync_plant_personnel",
    "write_people",
]
