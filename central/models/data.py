"""What agents send, as stored: readings, aggregates, events, gaps, health, and the seq ledger.

Hot tables (ledger, readings, latest values) have no foreign keys: ingest resolves every id in
the same transaction, and PostgreSQL checks a foreign key with a trigger per row, which would
cost more than the insert itself; partitioned and distributed tables restrict them too.

Partitioning (ARCHITECTURE.md §7): ``reading``'s primary key leads with point and time and holds
the time column, so the table can be range-partitioned on ``source_ts`` and distributed on
``point_id`` without changing a key. Uniqueness of ``(agent_id, seq)`` lives in ``seq_ledger``
alone (partitioned by agent, if ever), which is what makes ingest idempotent across every record
type of an agent: one seq space, one ledger row per record.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Index, SmallInteger
from sqlmodel import Field, SQLModel

from ._types import Big, BigId, Json, Micros

WITHOUT_ROWID = {"sqlite_with_rowid": False}


class RecordKind(enum.IntEnum):
    """Which table a seq's record went to (kept in the ledger for audits)."""

    READING = 1
    AGGREGATE = 2
    EVENT = 3
    GAP = 4
    COMMAND_RESULT = 5


LEDGER_PKEY = "seq_ledger_pkey"
"""PostgreSQL's name for the ledger's key: violating it means another transaction stored the
same (agent, seq) first, so the batch can be tried again (see ``central.store.bulk``)."""

QUALITY_CODE = {"good": 0, "uncertain": 1, "bad": 2}
QUALITY_NAME = {code: name for name, code in QUALITY_CODE.items()}


class IngestBatch(SQLModel, table=True):
    """One accepted batch: who sent it, when central received it, what was new in it."""

    __tablename__ = "ingest_batch"
    __table_args__ = (Index("ix_ingest_batch_agent_received", "agent_id", "received_ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    agent_id: int
    batch_key: str = Field(max_length=64)
    lane: str = Field(max_length=16)
    sent_ts: int = Field(sa_type=Micros)
    received_ts: int = Field(sa_type=Micros)
    records: int
    fresh: int


class SeqLedger(SQLModel, table=True):
    """One row per record ever stored; the (agent_id, seq) key is the idempotency check."""

    __tablename__ = "seq_ledger"
    __table_args__ = (WITHOUT_ROWID,)

    agent_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=Big)
    batch_id: int = Field(sa_type=Big)
    kind: int = Field(sa_type=SmallInteger)


class Reading(SQLModel, table=True):
    __tablename__ = "reading"
    __table_args__ = (WITHOUT_ROWID,)

    point_id: int = Field(primary_key=True)
    source_ts: int = Field(primary_key=True, sa_type=Micros)
    agent_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=Big)
    received_ts: int = Field(sa_type=Micros)
    value: float | None = None
    quality: int = Field(sa_type=SmallInteger)
    reason: str | None = Field(default=None, max_length=120)


class LatestReading(SQLModel, table=True):
    """The newest reading of each point by ``source_ts``, kept current on ingest."""

    __tablename__ = "latest_reading"

    point_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source_ts: int = Field(sa_type=Micros)
    received_ts: int = Field(sa_type=Micros)
    value: float | None = None
    quality: int = Field(sa_type=SmallInteger)
    reason: str | None = Field(default=None, max_length=120)
    agent_id: int
    seq: int = Field(sa_type=Big)


class ReadingAggregate(SQLModel, table=True):
    """Readings the agent thinned into one record (outbox short of disk)."""

    __tablename__ = "reading_aggregate"
    __table_args__ = (WITHOUT_ROWID,)

    point_id: int = Field(primary_key=True)
    from_ts: int = Field(primary_key=True, sa_type=Micros)
    agent_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=Big)
    to_ts: int = Field(sa_type=Micros)
    count: int = Field(sa_type=Big)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    quality: int = Field(sa_type=SmallInteger)


class Event(SQLModel, table=True):
    """An alarm, fault, exposure ... transition (:class:`protocols.sync.AlarmEvent`)."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_plant_ts", "plant_id", "ts"),
        Index("ix_event_point_ts", "point_id", "ts"),
        # Fleet KPIs: covers the alarm load, chattering, stale and time-to-ack scans of a
        # period (no table lookups), and pairs a raise with its ack by index seeks.
        Index(
            "ix_event_kpi",
            "plant_id",
            "ts",
            "category",
            "transition",
            "point_id",
            "kind",
            "agent_id",
            "seq",
        ),
        Index("ix_event_alarm", "point_id", "kind", "transition", "ts"),
    )

    agent_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=Big)
    plant_id: int
    point_id: int | None = None
    event_id: str = Field(max_length=64)
    category: str = Field(max_length=16)
    kind: str = Field(max_length=64)
    transition: str = Field(max_length=32)
    state: str | None = Field(default=None, max_length=32)
    priority: str | None = Field(default=None, max_length=16)
    value: float | None = None
    limit_value: float | None = None
    ts: int = Field(sa_type=Micros)
    actor: str | None = Field(default=None, max_length=120)
    message: str = Field(default="", max_length=2000)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=Json)


class Gap(SQLModel, table=True):
    """Where the agent thinned or lost data, and why."""

    __tablename__ = "gap"
    __table_args__ = (
        Index("ix_gap_plant_from", "plant_id", "from_ts"),
        Index("ix_gap_point_from", "point_id", "from_ts"),
    )

    agent_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=Big)
    plant_id: int
    point_id: int | None = None
    stream: str | None = Field(default=None, max_length=64)
    from_ts: int = Field(sa_type=Micros)
    to_ts: int = Field(sa_type=Micros)
    count: int = Field(sa_type=Big)
    reason: str = Field(max_length=120)


class AgentHealth(SQLModel, table=True):
    """The agent's latest heartbeat (``Batch.health``) and when it last sent anything."""

    __tablename__ = "agent_health"

    agent_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_batch_ts: int = Field(sa_type=Micros)
    ts: int | None = Field(default=None, sa_type=Micros)
    received_ts: int | None = Field(default=None, sa_type=Micros)
    version: str = Field(default="", max_length=64)
    backlog_records: int = Field(default=0, sa_type=Big)
    oldest_unsent_ts: int | None = Field(default=None, sa_type=Micros)
    outbox_bytes: int = Field(default=0, sa_type=Big)
    quota_bytes: int = Field(default=0, sa_type=Big)
    gaps_total: int = Field(default=0, sa_type=Big)
    clock_offset_s: float | None = None
    devices: list[dict[str, Any]] = Field(default_factory=list, sa_type=Json)
