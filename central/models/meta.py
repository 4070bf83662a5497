"""The schema's own version, so a newer database is never opened by older code."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1


class SchemaMeta(SQLModel, table=True):
    __tablename__ = "schema_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
