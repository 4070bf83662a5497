"""How rules hand out events: one ``Emitter`` per engine collects the EventRecords of one call.

Event ids are derived from the event's content and the engine's running count, so the same
readings, commands and ``now`` give the same ids (rules are deterministic: no clock, no random).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from edge_agent.records import EventRecord
from protocols.sync import EventCategory, Priority


class Emitter:
    """Collects the events of one ``process``/``tick``/``command`` call and counts them all."""

    __slots__ = ("by_category", "by_kind", "events", "plant_id", "total")

    def __init__(self, plant_id: str) -> None:
        self.plant_id = plant_id
        self.events: list[EventRecord] = []
        self.total = 0
        self.by_category: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()

    def take(self) -> list[EventRecord]:
        """The events collected since the last ``take``."""
        out, self.events = self.events, []
        return out

    def emit(
        self,
        category: EventCategory,
        kind: str,
        transition: str,
        ts: float,
        *,
        point: str | None = None,
        state: str | None = None,
        priority: Priority | None = None,
        value: float | None = None,
        limit: float | None = None,
        actor: str | None = None,
        message: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        self.total += 1
        source = f"{self.plant_id}|{point}|{kind}|{transition}|{ts!r}|{self.total}"
        event = EventRecord(
            event_id=hashlib.blake2b(source.encode(), digest_size=16).hexdigest(),
            category=category,
            kind=kind,
            transition=transition,
            ts=ts,
            point=point,
            state=state,
            priority=priority,
            value=value,
            limit=limit,
            actor=actor,
            message=message,
            details=dict(details or {}),
        )
        self.events.append(event)
        self.by_category[category.value] += 1
        self.by_kind[kind] += 1
        return event
