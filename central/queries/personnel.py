"""Personnel of a plant as a caller may see them: personal fields masked unless allowed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from central.core.epoch import iso
from central.models import (
    MASK,
    Person,
    PersonList,
    PersonPublic,
    Qualification,
    QualificationPublic,
)

from . import cursor as cursors


def person_public(
    person: Person,
    plant_key: str,
    quals: list[Qualification],
    *,
    personal: bool,
    today: date,
) -> PersonPublic:
    """``personal`` False: phone, date of birth and health notes read ``***`` (always, so the
    mask does not tell whether a value exists)."""
    return PersonPublic(
        plant=plant_key,
        person_id=person.person_id,
        name=person.name,
        badge_id=person.badge_id,
        phone=person.phone if personal else MASK,
        date_of_birth=(person.date_of_birth.isoformat() if person.date_of_birth else None)
        if personal
        else MASK,
        health_notes=person.health_notes if personal else MASK,
        personal_masked=not personal,
        qualifications=[
            QualificationPublic(
                name=q.name, expires=q.expires.isoformat(), expired=q.expires < today
            )
            for q in sorted(quals, key=lambda q: q.name)
        ],
        updated_at=iso(person.updated_ts) or "",
        updated_by=person.updated_by,
    )


def qualifications_of(session: Session, people: Sequence[Person]) -> dict[int, list[Qualification]]:
    """The qualifications of ``people`` by person row id, in one query."""
    quals: dict[int, list[Qualification]] = defaultdict(list)
    if people:
        for q in session.exec(
            select(Qualification).where(col(Qualification.person_pk).in_([p.id for p in people]))
        ):
            quals[q.person_pk].append(q)
    return quals


def list_people(
    session: Session,
    *,
    plant_id: int,
    plant_key: str,
    personal: bool,
    qualification: str | None,
    limit: int,
    after: str | None,
    today: date,
) -> PersonList:
    stmt = select(Person).where(Person.plant_id == plant_id)
    if qualification is not None:
        stmt = stmt.where(
            col(Person.id).in_(
                select(Qualification.person_pk).where(Qualification.name == qualification)
            )
        )
    if after is not None:
        (after_id,) = cursors.decode(after, 1)
        stmt = stmt.where(col(Person.id) > after_id)
    people = list(session.exec(stmt.order_by(col(Person.id)).limit(limit + 1)))
    page = people[:limit]
    quals = qualifications_of(session, page)
    nxt = cursors.encode(page[-1].id or 0) if len(people) > limit else None
    return PersonList(
        people=[
            person_public(p, plant_key, quals.get(p.id or 0, []), personal=personal, today=today)
            for p in page
        ],
        next_cursor=nxt,
    )


__all__ = ["list_people", "person_public", "qualifications_of"]
