"""Personnel and their qualifications, per plant, as HR systems keep them.

A person's personal fields (phone, date of birth, health notes) are returned masked unless the
caller's role may read personal data of the person's plant, and every read is audited. Only
``person_id``, qualification and expiry date ever leave for the edge (``personnel.sync``):
``PersonnelSync`` remembers, per agent, the digest of the list last queued for it, so a plant's
list is sent again exactly when it changes.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, UniqueConstraint
from sqlmodel import Field, SQLModel

from protocols.sync import Ident

from ._types import Micros

MASK = "***"
"""What a personal field reads as for a caller who may not see it."""

PERSONAL_FIELDS = ("phone", "date_of_birth", "health_notes")


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("plant_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plant_id: int = Field(foreign_key="plant.id", index=True)
    person_id: str = Field(max_length=100)
    name: str = Field(max_length=200)
    badge_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=64, repr=False)
    date_of_birth: date | None = Field(default=None, sa_type=Date, repr=False)
    health_notes: str | None = Field(default=None, max_length=2000, repr=False)
    created_ts: int = Field(sa_type=Micros)
    updated_ts: int = Field(sa_type=Micros)
    updated_by: str = Field(max_length=120)


class Qualification(SQLModel, table=True):
    __tablename__ = "qualification"

    person_pk: int = Field(foreign_key="person.id", primary_key=True)
    name: str = Field(max_length=100, primary_key=True)
    expires: date = Field(sa_type=Date)


class PersonnelSync(SQLModel, table=True):
    """The qualification list last queued for an agent (by digest), to send only changes."""

    __tablename__ = "personnel_sync"

    agent_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    digest: str = Field(max_length=64)
    command_id: str = Field(max_length=64)
    ts: int = Field(sa_type=Micros)
    records: int


class QualificationIn(SQLModel):
    name: Ident
    expires: date


class PersonIn(SQLModel):
    """One person as an HR system sends it (JSON API) or a CSV row holds it."""

    person_id: Ident
    name: str = Field(min_length=1, max_length=200)
    badge_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=64, repr=False)
    date_of_birth: date | None = Field(default=None, repr=False)
    health_notes: str | None = Field(default=None, max_length=2000, repr=False)
    qualifications: list[QualificationIn] = Field(default_factory=list, max_length=200)


class PersonnelBulk(SQLModel):
    records: list[PersonIn] = Field(max_length=20_000)
    replace: bool = False
    """True: people of the plant missing from ``records`` are removed (a full HR export)."""


class QualificationPublic(SQLModel):
    name: str
    expires: str
    expired: bool


class PersonPublic(SQLModel):
    plant: str
    person_id: str
    name: str
    badge_id: str | None
    phone: str | None
    date_of_birth: str | None
    health_notes: str | None
    personal_masked: bool
    qualifications: list[QualificationPublic]
    updated_at: str
    updated_by: str


class PersonList(SQLModel):
    people: list[PersonPublic]
    next_cursor: str | None = None


class PersonnelChange(SQLModel):
    """What an import or bulk write did."""

    plant: str
    created: int
    updated: int
    unchanged: int
    removed: int
    qualifications: int
    sync_commands: list[str]
    """Ids of the ``personnel.sync`` commands queued for the plant's agents (empty: no change)."""
