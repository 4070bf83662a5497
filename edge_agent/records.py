"""Records the agent produces, before they get a seq in the outbox. Times are POSIX seconds, UTC."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocols.sync import EventCategory, Priority
from protocols.types import Quality


@dataclass(frozen=True, slots=True)
class ReadingRecord:
    """One normalized reading, in its quantity's canonical unit."""

    point: str
    quantity: str
    unit: str
    value: float | None
    quality: Quality
    reason: str | None
    source_ts: float
    received_ts: float


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One state transition of an alarm, fault or other event source."""

    event_id: str
    category: EventCategory
    kind: str
    transition: str
    ts: float
    point: str | None = None
    state: str | None = None
    priority: Priority | None = None
    value: float | None = None
    limit: float | None = None
    actor: str | None = None
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
