"""The agent's internal records: what the pipeline hands to the outbox.

These are plain frozen dataclasses, cheap to build on the hot path (100,000 readings/s); the outbox
turns them into the wire models of :mod:`protocols.sync` only when it sends them. Times are POSIX
seconds, UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocols.sync import EventCategory, Priority
from protocols.types import Quality

__all__ = ["EventRecord", "ReadingRecord"]


@dataclass(frozen=True, slots=True)
class ReadingRecord:
    """One normalized reading of one point.

    ``value`` is in the quantity's canonical unit, ``None`` when there is none (quality bad, with a
    ``reason`` code). ``source_ts`` is the device's time, ``received_ts`` the agent's.
    """

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
    """A state transition of an alarm, fault or other event source (see ``protocols.sync.AlarmEvent``)."""

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
