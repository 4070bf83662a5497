"""API answers for the read side: fleet status, latest values, series, events, gaps, org tree.

Times are ISO 8601 UTC strings (``...Z``); durations carry their unit (``behind_s``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import SQLModel


class AgentStatus(SQLModel):
    agent_id: str
    online: bool
    """A batch arrived within ``agent_stale_after_s``."""
    last_batch_at: str | None
    silent_s: float | None
    """Seconds since the agent's last batch."""
    last_heartbeat_at: str | None
    version: str
    backlog_records: int
    oldest_unsent_at: str | None
    behind_s: float
    """Age of the oldest record the agent has not yet delivered (0 when it has none)."""
    outbox_bytes: int
    quota_bytes: int
    outbox_fill: float | None
    """outbox_bytes / quota_bytes (None without a quota)."""
    gaps_total: int
    clock_offset_s: float | None
    devices_down: list[str]


class PlantStatus(SQLModel):
    plant: str
    name: str
    region: str
    status: str
    """``ok``, ``behind`` (backlog older than a minute), ``full`` (outbox >= 80 %),
    ``devices_down``, ``offline`` (no agent online) or ``no_agent``."""
    behind_s: float
    outbox_fill: float | None
    devices_down: int
    agents: list[AgentStatus]


class PlantList(SQLModel):
    plants: list[PlantStatus]
    total: int
    offset: int
    limit: int


class LatestValue(SQLModel):
    point: str
    device: str
    area: str | None
    name: str
    quantity: str
    unit: str
    value: float | None
    quality: str | None
    reason: str | None
    source_ts: str | None
    received_at: str | None
    age_s: float | None


class LatestList(SQLModel):
    plant: str
    points: list[LatestValue]
    truncated: bool


class ReadingPoint(SQLModel):
    ts: str
    value: float | None
    quality: str
    reason: str | None
    received_at: str


class Bucket(SQLModel):
    start: str
    min: float | None
    max: float | None
    avg: float | None
    count: int
    """Readings with a value in the bucket (bad reads carry none)."""
    samples: int
    """All readings in the bucket."""
    thinned: int = 0
    """Of ``samples``, those the agent thinned into per-minute aggregates (its outbox ran short
    of disk): they count in min, max, avg and count but have no raw rows."""


class Series(SQLModel):
    point: str
    quantity: str
    unit: str
    bucket: str
    start: str
    end: str
    readings: list[ReadingPoint] | None = None
    buckets: list[Bucket] | None = None
    next_cursor: str | None = None


class PointPublic(SQLModel):
    point: str
    plant: str
    device: str
    area: str | None
    zone: str | None
    name: str
    quantity: str
    unit: str
    profile: str
    range_low: float | None
    range_high: float | None
    limits: dict[str, Any]
    registered: bool
    measured: bool = True
    """False for a PLC point the agent writes (interlocks) and does not poll."""


class PointList(SQLModel):
    points: list[PointPublic]
    next_cursor: str | None = None


class EventPublic(SQLModel):
    plant: str
    agent_id: str
    seq: int
    point: str | None
    event_id: str
    category: str
    kind: str
    transition: str
    state: str | None
    priority: str | None
    value: float | None
    limit: float | None
    ts: str
    actor: str | None
    message: str
    details: dict[str, Any]


class EventList(SQLModel):
    events: list[EventPublic]
    next_cursor: str | None = None


class GapPublic(SQLModel):
    plant: str
    agent_id: str
    seq: int
    point: str | None
    stream: str | None
    from_ts: str
    to_ts: str
    count: int
    reason: str


class GapList(SQLModel):
    gaps: list[GapPublic]
    next_cursor: str | None = None


class OrgArea(SQLModel):
    area: str
    name: str
    points: int


class OrgPlant(SQLModel):
    plant: str
    name: str
    limit_set: str | None = None
    timezone: str | None = None
    agents: int
    devices: int
    points: int
    areas: list[OrgArea]


class OrgRegion(SQLModel):
    region: str
    name: str
    plants: list[OrgPlant]


class OrgTree(SQLModel):
    name: str = "HQ"
    """The root: the whole fleet (setting ``org_name``)."""
    regions: list[OrgRegion]
