"""Commands for an agent (alarm acks, shelving, personnel lists) and the agent's results.

A command waits in its agent's queue and travels down in every ack until a
:class:`protocols.sync.CommandResult` with its id comes back; then it is done (or failed).
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from ._types import Big, Json, Micros


class CommandStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Command(SQLModel, table=True):
    __tablename__ = "command"
    __table_args__ = (Index("ix_command_agent_status", "agent_id", "status", "issued_ts"),)

    id: str = Field(primary_key=True, max_length=64)
    agent_id: int = Field(foreign_key="agent.id")
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    issued_ts: int = Field(sa_type=Micros)
    issued_by: str = Field(max_length=120)
    status: str = Field(default=CommandStatus.PENDING, max_length=16)
    delivered_count: int = 0
    last_delivered_ts: int | None = Field(default=None, sa_type=Micros)
    done_ts: int | None = Field(default=None, sa_type=Micros)
    result_ok: bool | None = None
    result_message: str | None = Field(default=None, max_length=2000)


class CommandResult(SQLModel, table=True):
    """Every result record an agent sent, as stored (a record of its seq space)."""

    __tablename__ = "command_result"

    agent_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=Big)
    command_id: str = Field(max_length=64, index=True)
    ok: bool
    message: str = Field(default="", max_length=2000)
    ts: int = Field(sa_type=Micros)


class CommandPublic(SQLModel):
    id: str
    agent_id: str
    kind: str
    payload: dict[str, Any]
    issued_at: str
    issued_by: str
    status: str
    delivered_count: int
    result_ok: bool | None
    result_message: str | None
