"""Central's view of every alarm: its current ISA-18.2 state, kept from the agents' events, and
the actions and comments people made on it centrally.

``AlarmState`` has one row per alarm id (``<point>:<name>``, e.g. ``north/gd-1/h2s:hh``), moved
forward by each event (by event time, then seq) in the ingest transaction, so a late backlog
event never rolls a newer state back. Faults (``fault.*``) are kept the same way with state
``fault`` / ``ok``, so "points in fault" is a lookup. ``AlarmNote`` records each central action
(ack, shelve ..., comment) with its command id: comments live here, whatever the edge does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from ._types import Big, BigId, Micros

ACTIVE_STATES = (
    "active_unacked",
    "active_acked",
    "rtn_unacked",
    "latched_unacked",
    "latched_acked",
    "fault",
)
"""States an operator still has to see (ISA-18.2 B-F, and an active fault); not normal,
not shelved, suppressed or out of service."""
UNACKED_STATES = ("active_unacked", "rtn_unacked", "latched_unacked")
SHELVED_STATES = ("shelved",)


class AlarmState(SQLModel, table=True):
    __tablename__ = "alarm_state"
    __table_args__ = (
        Index("ix_alarm_state_plant_state", "plant_id", "state"),
        Index("ix_alarm_state_plant_last", "plant_id", "last_ts"),
    )

    alarm_id: str = Field(primary_key=True, max_length=270)
    plant_id: int
    point_id: int | None = None
    agent_id: int
    """The agent that reported it last: commands for the alarm go to it."""
    category: str = Field(max_length=16)
    kind: str = Field(max_length=64)
    priority: str | None = Field(default=None, max_length=16)
    state: str = Field(max_length=32)
    active: bool = False
    acked: bool = True
    latched: bool = False
    shelved_until_ts: int | None = Field(default=None, sa_type=Micros)
    raised_ts: int | None = Field(default=None, sa_type=Micros)
    acked_ts: int | None = Field(default=None, sa_type=Micros)
    cleared_ts: int | None = Field(default=None, sa_type=Micros)
    last_transition: str = Field(max_length=32)
    last_ts: int = Field(sa_type=Micros)
    last_seq: int = Field(sa_type=Big)
    last_actor: str | None = Field(default=None, max_length=120)
    value: float | None = None
    limit_value: float | None = None
    message: str = Field(default="", max_length=2000)


class AlarmNote(SQLModel, table=True):
    """An action or comment on an alarm made through central, by whom, with its command."""

    __tablename__ = "alarm_note"
    __table_args__ = (Index("ix_alarm_note_alarm_ts", "alarm_id", "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    plant_id: int
    alarm_id: str = Field(max_length=270)
    ts: int = Field(sa_type=Micros)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=16)
    text: str = Field(default="", max_length=2000)
    command_id: str | None = Field(default=None, max_length=64)


class AlarmPublic(SQLModel):
    alarm_id: str
    plant: str
    point: str | None
    area: str | None
    category: str
    kind: str
    priority: str | None
    state: str
    active: bool
    acked: bool
    latched: bool
    shelved_until: str | None
    raised_at: str | None
    acked_at: str | None
    cleared_at: str | None
    last_transition: str
    last_at: str
    last_actor: str | None
    value: float | None
    limit: float | None
    message: str
    agent_id: str


class AlarmList(SQLModel):
    alarms: list[AlarmPublic]
    next_cursor: str | None = None


class AlarmNotePublic(SQLModel):
    ts: str
    actor: str
    action: str
    text: str
    command_id: str | None


class AlarmDetail(AlarmPublic):
    notes: list[AlarmNotePublic]


class AckIn(BaseModel):
    comment: str = PydanticField(default="", max_length=2000)


class ShelveIn(BaseModel):
    reason: str = PydanticField(min_length=1, max_length=2000)
    """Why the alarm is shelved (ISA-18.2: shelving is recorded with its reason)."""
    minutes: int = PydanticField(ge=1, le=10080)
    """How long, at most 7 days; the agent may hold a shorter maximum (its ``max_shelve_s``)."""


class ReasonIn(BaseModel):
    reason: str = PydanticField(default="", max_length=2000)


class CommentIn(BaseModel):
    text: str = PydanticField(min_length=1, max_length=2000)


class CommandAccepted(SQLModel):
    """The answer to an alarm action: the command queued for the plant's agent."""

    command_id: str
    status: str
    alarm_id: str
    action: str
    agent_id: str


class CommandState(SQLModel):
    id: str
    kind: str
    agent_id: str
    plant: str
    status: str
    """``pending`` (not yet sent), ``delivered`` (sent, no answer yet), ``done`` or ``failed``."""
    result_ok: bool | None
    result_message: str | None
    issued_at: str
    issued_by: str
    delivered_count: int
    last_delivered_at: str | None
    done_at: str | None
    payload: dict[str, Any]
