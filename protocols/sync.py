"""The edge-to-central wire schema, version 1.

An agent POSTs a :class:`Batch` (JSON, gzip) to central's ingest endpoint and gets a
:class:`BatchAck` back. Every record an agent produces (reading, aggregate, alarm event, gap,
command result) carries the agent's one monotonic ``seq``; central's insert is idempotent on
``(agent_id, seq)``, so a batch sent twice is stored once and acknowledged both times.

The ack lists the seq ranges central has durably stored; an agent deletes exactly those from its
outbox. Commands for the plant (alarm acks and shelving made centrally, personnel lists) travel
back in the ack, so the edge needs only outbound HTTPS.

Timestamps are timezone-aware UTC. ``source_ts`` is the device's own time (or OPC UA
SourceTimestamp) and is never refreshed for a held value; ``received_ts`` is the agent's clock.
"""

from __future__ import annotations

import enum
import gzip
from datetime import UTC, datetime
from operator import methodcaller
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .types import Quality

SCHEMA_VERSION: Literal[1] = 1
MEDIA_TYPE = "application/vnd.hse.batch.v1+json"
MAX_RECORDS_PER_BATCH = 20_000

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
PointId = Annotated[
    str, StringConstraints(pattern=rf"^{_SEGMENT}/{_SEGMENT}/{_SEGMENT}$", max_length=200)
]
"""A stable point id: ``plant/device/point``."""

Ident = Annotated[str, StringConstraints(pattern=rf"^{_SEGMENT}$", max_length=100)]
Seq = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


# AwareDatetime refuses a naive timestamp inside pydantic-core, and methodcaller converts to UTC
# as a C call: no Python frame per timestamp (a batch of 1,000 readings carries 2,000). Same
# result as _require_utc.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(methodcaller("astimezone", UTC))]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reading(_Record):
    """One normalized value of one point, in its quantity's canonical unit."""

    seq: Seq
    point: PointId
    quantity: Annotated[str, StringConstraints(max_length=64)]
    unit: Annotated[str, StringConstraints(max_length=16)]
    value: float | None
    quality: Quality
    reason: Annotated[str, StringConstraints(max_length=120)] | None = None
    source_ts: UtcDatetime
    received_ts: UtcDatetime


class ReadingAggregate(_Record):
    """Readings of one point thinned into one record when the outbox ran short of disk."""

    seq: Seq
    point: PointId
    quantity: str
    unit: str
    from_ts: UtcDatetime
    to_ts: UtcDatetime
    count: Annotated[int, Field(ge=1)]
    min: float | None
    max: float | None
    mean: float | None
    quality: Quality


class EventCategory(enum.StrEnum):
    ALARM = "alarm"
    FAULT = "fault"
    EXPOSURE = "exposure"
    ANOMALY = "anomaly"
    PREDICTION = "prediction"
    INTERLOCK = "interlock"
    SYSTEM = "system"


class Priority(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AlarmEvent(_Record):
    """A state transition of an alarm, fault or other event source. Events are never dropped.

    ``kind`` names the source (``limit.hh``, ``exposure.stel``, ``fault.flatline``,
    ``interlock.trip``, ``system.outbox_reset`` ...); ``transition`` what happened (``raise``,
    ``clear``, ``ack``, ``shelve`` ...); ``state`` the ISA-18.2 state after it, for alarms.
    """

    seq: Seq
    event_id: Annotated[str, StringConstraints(max_length=64)]
    point: PointId | None = None
    category: EventCategory
    kind: Annotated[str, StringConstraints(max_length=64)]
    transition: Annotated[str, StringConstraints(max_length=32)]
    state: Annotated[str, StringConstraints(max_length=32)] | None = None
    priority: Priority | None = None
    value: float | None = None
    limit: float | None = None
    ts: UtcDatetime
    actor: Annotated[str, StringConstraints(max_length=120)] | None = None
    message: Annotated[str, StringConstraints(max_length=2000)] = ""
    details: dict[str, Any] = Field(default_factory=dict)


class Gap(_Record):
    """Where data is thinned or missing, and why, so central never silently lacks it."""

    seq: Seq
    point: PointId | None = None
    stream: Annotated[str, StringConstraints(max_length=64)] | None = None
    from_ts: UtcDatetime
    to_ts: UtcDatetime
    count: Annotated[int, Field(ge=0)]
    reason: Annotated[str, StringConstraints(max_length=120)]


class CommandResult(_Record):
    """The edge's answer to a command that came down in an ack."""

    seq: Seq
    command_id: Annotated[str, StringConstraints(max_length=64)]
    ok: bool
    message: Annotated[str, StringConstraints(max_length=2000)] = ""
    ts: UtcDatetime


class PointInfo(_Record):
    """Registration metadata for a point, sent when the agent starts or its config changes."""

    point: PointId
    device: Ident
    area: Ident | None = None
    zone: Ident | None = None
    name: str = ""
    quantity: str
    unit: str
    profile: str
    range_low: float | None = None
    range_high: float | None = None
    device_serial: str | None = None
    calibration_due: datetime | None = None
    limits: dict[str, float] = Field(default_factory=dict)
    poll_interval_s: Annotated[float, Field(gt=0)] | None = None
    """How often the agent reads the point; central measures data completeness against it."""
    measured: bool = True
    """False for a safety PLC's point the agent writes (interlock outputs, the heartbeat) and
    does not poll: central expects no readings from it."""


class DeviceHealth(_Record):
    device: Ident
    connected: bool
    last_error: str | None = None
    last_ok_ts: UtcDatetime | None = None


class AgentHealth(_Record):
    """The agent's heartbeat: what central needs to say "plant X is 6 h behind and 80 % full"."""

    ts: UtcDatetime
    version: str = ""
    devices: list[DeviceHealth] = Field(default_factory=list)
    backlog_records: Annotated[int, Field(ge=0)] = 0
    oldest_unsent_ts: UtcDatetime | None = None
    outbox_bytes: Annotated[int, Field(ge=0)] = 0
    quota_bytes: Annotated[int, Field(ge=0)] = 0
    gaps_total: Annotated[int, Field(ge=0)] = 0
    clock_offset_s: float | None = None


class Lane(enum.StrEnum):
    """Sync lanes, sent in this order: events, then live readings, then the backlog."""

    EVENTS = "events"
    LIVE = "live"
    BACKLOG = "backlog"


class Batch(_Record):
    schema_version: Literal[1] = SCHEMA_VERSION
    agent_id: Ident
    plant_id: Ident
    batch_id: Annotated[str, StringConstraints(max_length=64)]
    lane: Lane
    sent_at: UtcDatetime
    readings: list[Reading] = Field(default_factory=list)
    aggregates: list[ReadingAggregate] = Field(default_factory=list)
    events: list[AlarmEvent] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    command_results: list[CommandResult] = Field(default_factory=list)
    points: list[PointInfo] = Field(default_factory=list)
    health: AgentHealth | None = None

    def record_count(self) -> int:
        return (
            len(self.readings)
            + len(self.aggregates)
            + len(self.events)
            + len(self.gaps)
            + len(self.command_results)
        )


class CommandKind(enum.StrEnum):
    ALARM_ACK = "alarm.ack"
    ALARM_SHELVE = "alarm.shelve"
    ALARM_UNSHELVE = "alarm.unshelve"
    ALARM_RESET = "alarm.reset"
    ALARM_COMMENT = "alarm.comment"
    PERSONNEL_SYNC = "personnel.sync"


class Command(_Record):
    id: Annotated[str, StringConstraints(max_length=64)]
    kind: CommandKind
    issued_at: UtcDatetime
    issued_by: str
    payload: dict[str, Any] = Field(default_factory=dict)


class BatchAck(_Record):
    """Central's answer: the seq ranges (inclusive) now durably stored, and commands for the edge."""

    schema_version: Literal[1] = SCHEMA_VERSION
    batch_id: str
    accepted: list[tuple[int, int]] = Field(default_factory=list)
    duplicates: Annotated[int, Field(ge=0)] = 0
    server_time: UtcDatetime
    commands: list[Command] = Field(default_factory=list)


class ErrorDetail(_Record):
    """Body of a 4xx answer: what was wrong and where."""

    error: str
    detail: str
    location: list[str | int] = Field(default_factory=list)


def seq_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Compress seqs into sorted inclusive ranges: [1,2,3,7] -> [(1,3),(7,7)]."""
    ranges: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if ranges and s == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], s)
        else:
            ranges.append((s, s))
    return ranges


def encode_batch(batch: Batch, *, compress: bool = True) -> bytes:
    body = batch.model_dump_json(exclude_defaults=False).encode()
    return gzip.compress(body, compresslevel=5) if compress else body


def decode_batch(body: bytes, *, max_bytes: int = 64 * 1024 * 1024) -> Batch:
    """Parse a (possibly gzip) body; refuses bodies that inflate past ``max_bytes``."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip_bounded(body, max_bytes=max_bytes)
    return Batch.model_validate_json(body)


def gunzip_bounded(body: bytes, *, max_bytes: int) -> bytes:
    """Inflate gzip data, raising ``ValueError`` past ``max_bytes`` (a zip bomb never fills RAM)."""
    import zlib

    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(body, max_bytes + 1)
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise ValueError(f"decompressed body exceeds {max_bytes} bytes")
    if not inflater.eof:
        raise ValueError("gzip body is truncated")
    return out


def utc_from_posix(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
