"""The stage between pollers and the outbox: normalize, check quality, hand on.

Pollers put ``(device, samples)`` into one bounded queue (backpressure: a full queue makes the
pollers wait and count overruns; nothing is dropped). The pipeline task turns each sample into a
``ReadingRecord`` through its point's ``PointChannel``, then passes the records to every consumer
in order: the rules engine first (safety never waits on storage), then the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dtime

import structlog

from protocols.types import Sample

from .config import QualityConfig
from .normalize import PointChannel
from .plant import ResolvedPlant
from .records import ReadingRecord

Consumer = Callable[[list[ReadingRecord]], Awaitable[None]]

log = structlog.get_logger("edge_agent.pipeline")


@dataclass(frozen=True, slots=True)
class PipelineStats:
    queue_depth: int
    queue_capacity: int
    samples_in: int
    readings_out: int
    unknown_samples: int
    queue_full_waits: int


def build_channels(plant: ResolvedPlant, quality: QualityConfig) -> dict[str, PointChannel]:
    """One channel per point, keyed by the driver spec key ``device/point``."""
    channels = {}
    for point_id, device, point in plant.points():
        installed = device.entry.installed
        installed_ts = datetime.combine(installed, dtime(), UTC).timestamp() if installed else None
        channels[point.key] = PointChannel.for_point(point_id, point, quality, installed_ts)
    return channels


class Pipeline:
    def __init__(
        self,
        channels: dict[str, PointChannel],
        consumers: Sequence[Consumer],
        *,
        queue_size: int = 1000,
        ignored: frozenset[str] = frozenset(),
    ) -> None:
        self.channels = channels
        self.ignored = ignored  # keys polled on purpose but not turned into readings (text points)
        self.consumers = list(consumers)
        self._queue: asyncio.Queue[list[Sample]] = asyncio.Queue(maxsize=queue_size)
        self._samples_in = 0
        self._readings_out = 0
        self._unknown = 0
        self._full_waits = 0

    async def submit(self, device_id: str, samples: list[Sample]) -> None:
        """The pollers' sink. Waits when the queue is full (backpressure, counted)."""
        if self._queue.full():
            self._full_waits += 1
        await self._queue.put(samples)

    def process(self, samples: Sequence[Sample]) -> list[ReadingRecord]:
        """Normalize and quality-check samples (synchronous: no I/O, no clock)."""
        channels = self.channels
        out = []
        for sample in samples:
            channel = channels.get(sample.key)
            if channel is None:
                if sample.key not in self.ignored:
                    self._unknown += 1
                continue
            out.append(channel.process(sample))
        self._samples_in += len(samples)
        self._readings_out += len(out)
        return out

    async def run(self) -> None:
        queue = self._queue
        while True:
            batch = await queue.get()
            # Drain what is already queued so the consumers see larger batches under load.
            while len(batch) < 5000 and not queue.empty():
                batch.extend(queue.get_nowait())
            records = self.process(batch)
            if records:
                for consumer in self.consumers:
                    await consumer(records)

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Process whatever is still queued (shutdown), bounded in time."""
        deadline = time.monotonic() + timeout_s
        while not self._queue.empty() and time.monotonic() < deadline:
            records = self.process(self._queue.get_nowait())
            for consumer in self.consumers:
                await consumer(records)

    def statistics(self) -> PipelineStats:
        return PipelineStats(
            self._queue.qsize(),
            self._queue.maxsize,
            self._samples_in,
            self._readings_out,
            self._unknown,
            self._full_waits,
        )
