"""The access audit log: every read of personal data, every export, locks and unlocks.

Append-only: there is no route to change or delete a row, and the database refuses UPDATE and
DELETE on the table (triggers created by :func:`central.core.db.init_db`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from ._types import BigId, Json, Micros


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_actor_ts", "actor_kind", "actor_id", "ts"),
        Index("ix_audit_ts", "ts"),
        Index("ix_audit_plant_ts", "plant_id", "ts"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: int = Field(sa_type=Micros)
    actor_kind: str = Field(max_length=16)
    """``user``, ``token`` (an API token), ``cli`` or ``system``."""
    actor_id: int | None = None
    actor: str = Field(max_length=120)
    role: str = Field(default="", max_length=32)
    action: str = Field(max_length=64)
    """``personnel.read``, ``compliance.export``, ``account.lock`` ..."""
    category: str = Field(default="", max_length=32)
    plant_id: int | None = None
    records: list[str] = Field(default_factory=list, sa_type=Json)
    """Which records: person ids, the report's plant and period ..."""
    record_count: int = 0
    export: bool = False
    out_of_hours: bool = False
    client_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=Json)


class AuditPublic(SQLModel):
    id: int
    ts: str
    actor_kind: str
    actor: str
    role: str
    action: str
    category: str
    plant: str | None
    records: list[str]
    record_count: int
    export: bool
    out_of_hours: bool
    client_ip: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditList(SQLModel):
    entries: list[AuditPublic]
    next_cursor: str | None = None
