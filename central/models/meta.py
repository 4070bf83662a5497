"""The schema's own version, so a newer database is never opened by older code."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 3
"""1: ingest, registry, users (the first release). 2: roles, locks and API tokens, plant limit
sets and time zones, personnel, audit log, alarm states, hourly roll-up, extension fields.
3: the roll-ups also hold the agents' thinned aggregates (``central.core.migrations`` brings an
older database forward)."""


class SchemaMeta(SQLModel, table=True):
    __tablename__ = "schema_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
