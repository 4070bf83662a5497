"""A driver that talks to no wire, for unit tests of everything above the drivers.

It is shipped (not hidden in tests) so other packages can test against it too. Values are set by
the test (``set``), failures injected (``fail_next``), writes recorded (``writes``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .driver import PointSpec, Timeouts
from .errors import ConnectError, ProtocolError
from .types import DriverStatistics, Quality, Sample, Value


class FakeDriver:
    """Implements both the polling and the streaming contract from an in-memory table."""

    def __init__(self, url: str = "fake://device", *, timeouts: Timeouts | None = None) -> None:
        self.url = url
        self.timeouts = timeouts or Timeouts()
        self.values: dict[str, Value] = {}
        self.writes: list[tuple[str, Value]] = []
        self.connected = False
        self._fail: list[ProtocolError] = []
        self._queue: asyncio.Queue[Sample] = asyncio.Queue(maxsize=10_000)
        self._requests = 0
        self._errors = 0

    @classmethod
    def from_url(cls, url: str, *, timeouts: Timeouts | None = None, **_: Any) -> FakeDriver:
        return cls(url, timeouts=timeouts)

    def set(self, key: str, value: Value) -> None:
        self.values[key] = value

    def fail_next(self, error: ProtocolError) -> None:
        self._fail.append(error)

    def push(self, sample: Sample) -> None:
        """Deliver a sample to ``stream()`` consumers."""
        self._queue.put_nowait(sample)

    async def connect(self) -> None:
        if self._fail and isinstance(self._fail[0], ConnectError):
            self._errors += 1
            raise self._fail.pop(0)
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    def plan(self, points: Sequence[PointSpec]) -> list[PointSpec]:
        return list(points)

    async def read(self, plan: list[PointSpec]) -> list[Sample]:
        self._requests += 1
        now = time.time()
        if self._fail:
            error = self._fail.pop(0)
            self._errors += 1
            return [
                Sample(p.key, None, Quality.BAD, now, reason=type(error).__name__) for p in plan
            ]
        out = []
        for p in plan:
            if p.key in self.values:
                out.append(Sample(p.key, self.values[p.key], Quality.GOOD, now))
            else:
                out.append(Sample(p.key, None, Quality.BAD, now, reason="fake.no_value"))
        return out

    async def subscribe(self, points: Sequence[PointSpec]) -> None:
        return None

    async def stream(self) -> AsyncIterator[Sample]:
        while True:
            yield await self._queue.get()

    async def write(self, point: Any, value: Value) -> None:
        key = point.key if isinstance(point, PointSpec) else str(point)
        self.writes.append((key, value))
        self.values[key] = value

    def statistics(self) -> DriverStatistics:
        return DriverStatistics(
            url=self.url, connected=self.connected, requests=self._requests, errors=self._errors
        )
