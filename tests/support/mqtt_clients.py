"""Small MQTT helpers for tests: publish a few messages, collect a driver's stream."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiomqtt

from protocols import Sample


async def publish(
    host: str,
    port: int,
    messages: Sequence[tuple[str, bytes | str]],
    *,
    qos: int = 1,
    retain: bool = False,
    **client_kwargs: Any,
) -> None:
    """Publish ``messages`` in order at ``qos`` (waiting for each PUBACK), bounded to 10 s."""
    async with (
        asyncio.timeout(10),
        aiomqtt.Client(host, port, timeout=5, **client_kwargs) as client,
    ):
        for topic, payload in messages:
            await client.publish(topic, payload, qos=qos, retain=retain)


@contextlib.asynccontextmanager
async def subscriber(
    host: str, port: int, topic: str, *, tls_context: ssl.SSLContext | None = None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(host, port, timeout=5, tls_context=tls_context) as client:
        await client.subscribe(topic, qos=1)
        yield client


class Collector:
    """Collects a streaming driver's samples in a background task; ``wait_for`` is bounded."""

    def __init__(self, stream: AsyncIterator[Sample]) -> None:
        self.samples: list[Sample] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(stream), name="test.collector")

    async def _run(self, stream: AsyncIterator[Sample]) -> None:
        async for sample in stream:
            self.samples.append(sample)
            self._changed.set()

    def matching(self, match: Callable[[Sample], bool]) -> list[Sample]:
        return [s for s in self.samples if match(s)]

    async def wait_for(
        self, match: Callable[[Sample], bool], count: int = 1, timeout_s: float = 10.0
    ) -> list[Sample]:
        """The first ``count`` samples that match, waiting for them if needed."""
        async with asyncio.timeout(timeout_s):
            while True:
                found = self.matching(match)
                if len(found) >= count:
                    return found[:count]
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])
