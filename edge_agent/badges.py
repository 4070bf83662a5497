"""Badge reads over MQTT, for the people + environment interlock (``interlocks.access``).

Access control readers publish one JSON object per badge read on a topic, e.g.

    {"person_id": "P-1042", "zone": "zone-a", "badge": "B-77", "ts": "2026-11-29T08:00:00Z"}

(``ts`` optional: epoch seconds or ISO 8601 with a zone). A malformed read is counted and logged
once per state change; it never stops the listener and never counts as a person.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from protocols import ProtocolError, Quality, Timeouts, open_driver
from protocols.mqtt import MqttPoint, PayloadFormat

from .interlocks import BadgeEvent

log = structlog.get_logger("edge_agent.badges")


@dataclass
class BadgeStats:
    reads: int = 0
    malformed: int = 0
    last_error: str | None = None


def parse_badge(text: str, received_ts: float) -> BadgeEvent:
    """A badge read from its JSON text; ``ValueError`` names what is missing or wrong."""
    data: Any = json.loads(text)
    person, zone = data.get("person_id"), data.get("zone")
    if not isinstance(person, str) or not person:
        raise ValueError("person_id is missing or not a string")
    if not isinstance(zone, str) or not zone:
        raise ValueError("zone is missing or not a string")
    ts = data.get("ts", received_ts)
    if isinstance(ts, str):
        parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"ts {ts!r} has no time zone")
        ts = parsed.timestamp()
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ValueError(f"ts {ts!r} is not a time")
    return BadgeEvent(person=person, zone=zone, ts=float(ts), badge=str(data.get("badge", "")))


class BadgeListener:
    def __init__(
        self,
        url: str,
        topic: str,
        on_badge: Callable[[BadgeEvent], None],
        *,
        session_id: str,
        driver_factory: Callable[..., Any] = open_driver,
    ) -> None:
        self.url = url
        self.topic = topic
        self.on_badge = on_badge
        self.session_id = session_id
        self._factory = driver_factory
        self.stats = BadgeStats()
        self._failing = False

    async def run(self) -> None:
        timeouts = Timeouts(connect_s=5.0, io_s=5.0)
        driver = self._factory(self.url, timeouts=timeouts, device_id=self.session_id)
        point = MqttPoint(key="badges", topic=self.topic, payload=PayloadFormat.DOCUMENT, qos=1)
        try:
            await driver.subscribe([point])
            with contextlib.suppress(ProtocolError, TimeoutError):
                async with asyncio.timeout(timeouts.connect_s + 1):
                    await driver.connect()
            async for sample in driver.stream():
                if sample.quality is not Quality.GOOD or not isinstance(sample.value, str):
                    self._problem(sample.reason or "bad sample")
                    continue
                try:
                    badge = parse_badge(sample.value, sample.received_ts or time.time())
                except (ValueError, TypeError, AttributeError) as exc:
                    self._problem(f"malformed badge read: {exc}")
                    continue
                self.stats.reads += 1
                self._failing = False
                self.on_badge(badge)
        finally:
            with contextlib.suppress(ProtocolError, TimeoutError):
                async with asyncio.timeout(2):
                    await driver.close()

    def _problem(self, message: str) -> None:
        self.stats.malformed += 1
        self.stats.last_error = message
        if not self._failing:
            log.warning("badge read refused", topic=self.topic, error=message)
        self._failing = True
