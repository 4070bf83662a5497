"""The bounded queue between a streaming driver's receive path and its ``stream()`` consumer.

A streaming driver gets samples from callbacks it does not pace (an OPC UA publish response, an
MQTT message). It must never block those callbacks and never grow without bound, so the queue
drops the *oldest* sample when full (the consumer is behind; the newest value of a point is the
one that matters) and counts every drop. ``close()`` ends ``async for`` after what is queued.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .types import Sample


@dataclass(frozen=True, slots=True)
class SampleQueueStatistics:
    """Counters of a :class:`SampleQueue` since it was made."""

    maxsize: int
    size: int
    put: int
    delivered: int
    dropped: int
    high_water: int


class SampleQueue:
    """A bounded FIFO of samples: ``put`` never blocks (drops the oldest, counted), ``get`` waits.

    Meant for one consumer task. Not thread-safe: call it from the event loop's thread.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: collections.deque[Sample] = collections.deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._put = 0
        self._delivered = 0
        self._dropped = 0
        self._high_water = 0

    def put(self, sample: Sample) -> None:
        """Queue ``sample``; if the queue is full, drop the oldest queued sample first."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self._dropped += 1
        self._items.append(sample)
        self._put += 1
        self._high_water = max(self._high_water, len(self._items))
        self._ready.set()

    async def get(self) -> Sample:
        """The oldest queued sample; raises ``EOFError`` once closed and drained."""
        while not self._items:
            if self._closed:
                raise EOFError("sample queue is closed")
            self._ready.clear()
            await self._ready.wait()
        self._delivered += 1
        return self._items.popleft()

    def close(self) -> None:
        """End the stream: consumers get what is queued, then iteration stops."""
        self._closed = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    async def __aiter__(self) -> AsyncIterator[Sample]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return

    def statistics(self) -> SampleQueueStatistics:
        return SampleQueueStatistics(
            maxsize=self.maxsize,
            size=len(self._items),
            put=self._put,
            delivered=self._delivered,
            dropped=self._dropped,
            high_water=self._high_water,
        )
