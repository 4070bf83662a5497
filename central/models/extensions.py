"""Shared classifications (quantities, alarm priorities, hazard categories) and per-plant
extension fields.

Classifications are data: rows of ``classification`` seeded from code at start
(:mod:`central.core.classifications`) and extendable by an admin, so a new hazard category needs
no release. Extension fields let a plant record what only it needs (a southern plant's typhoon
measures, a northern plant's winter frost checks) without a schema change: the plant defines
fields (name, type, required), and values are stored as JSON after validation against them.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from protocols.sync import Ident

from ._types import Json, Micros


class Classification(SQLModel, table=True):
    """One entry of a shared classification scheme (``quantity``, ``priority``, ``hazard``)."""

    __tablename__ = "classification"
    __table_args__ = (UniqueConstraint("scheme", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scheme: str = Field(max_length=32)
    key: str = Field(max_length=64)
    label: str = Field(default="", max_length=200)
    rank: int = 0
    """Order within the scheme (priority: higher is more urgent)."""
    details: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    builtin: bool = True


class ClassificationCreate(SQLModel):
    key: Ident
    label: str = Field(default="", max_length=200)
    rank: int = 0
    details: dict[str, Any] = Field(default_factory=dict)


class ClassificationPublic(SQLModel):
    scheme: str
    key: str
    label: str
    rank: int
    details: dict[str, Any]
    builtin: bool


class Classifications(SQLModel):
    quantities: list[ClassificationPublic]
    priorities: list[ClassificationPublic]
    hazards: list[ClassificationPublic]
    other: list[ClassificationPublic] = []


class FieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"


class TargetKind(enum.StrEnum):
    """What an extension record is about: the plant itself, one of its areas or points."""

    PLANT = "plant"
    AREA = "area"
    POINT = "point"


class ExtensionFieldCreate(SQLModel):
    name: Ident
    label: str = Field(default="", max_length=200)
    type: FieldType
    required: bool = False
    applies_to: TargetKind = TargetKind.PLANT
    choices: list[str] = Field(default_factory=list, max_length=100)
    """The allowed values of a ``choice`` field."""
    unit: str = Field(default="", max_length=32)
    description: str = Field(default="", max_length=1000)


class ExtensionField(SQLModel, table=True):
    __tablename__ = "extension_field"
    __table_args__ = (UniqueConstraint("plant_id", "applies_to", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    plant_id: int = Field(foreign_key="plant.id", index=True)
    name: str = Field(max_length=100)
    label: str = Field(default="", max_length=200)
    type: str = Field(max_length=16)
    required: bool = False
    applies_to: str = Field(default=TargetKind.PLANT, max_length=16)
    choices: list[str] = Field(default_factory=list, sa_type=Json)
    unit: str = Field(default="", max_length=32)
    description: str = Field(default="", max_length=1000)
    created_ts: int = Field(sa_type=Micros)


class ExtensionFieldPublic(SQLModel):
    plant: str
    name: str
    label: str
    type: str
    required: bool
    applies_to: str
    choices: list[str]
    unit: str
    description: str


class ExtensionRecord(SQLModel, table=True):
    """The extension values of one target (plant, area or point), validated JSON."""

    __tablename__ = "extension_record"
    __table_args__ = (UniqueConstraint("plant_id", "target_kind", "target_key"),)

    id: int | None = Field(default=None, primary_key=True)
    plant_id: int = Field(foreign_key="plant.id", index=True)
    target_kind: str = Field(max_length=16)
    target_key: str = Field(max_length=200)
    values: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    updated_ts: int = Field(sa_type=Micros)
    updated_by: str = Field(max_length=120)


class ExtensionValuesIn(SQLModel):
    values: dict[str, Any]


class ExtensionRecordPublic(SQLModel):
    plant: str
    target_kind: str
    target_key: str
    values: dict[str, Any]
    updated_at: str
    updated_by: str


class PlantExtensions(SQLModel):
    plant: str
    fields: list[ExtensionFieldPublic]
    records: list[ExtensionRecordPublic]
