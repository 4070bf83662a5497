"""Reconnecting a streaming driver: exponential backoff with full jitter, until it works.

Shared by the OPC UA and MQTT drivers, which keep their connection up by themselves once they
have connected once. Each failure is recorded; the first one (and any that is not retriable) is
logged, the rest are counted, so a long outage is one log line, not thousands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, wait_random_exponential

from .errors import ProtocolError


async def reconnect(
    establish: Callable[[], Awaitable[None]],
    *,
    lock: asyncio.Lock,
    initial_s: float,
    max_s: float,
    record_error: Callable[[str], None],
    log: Any,
    event_prefix: str,
) -> int:
    """Call ``establish`` under ``lock`` until it succeeds; returns the attempts it took."""
    down_since = time.monotonic()
    failures = 0
    retrying = AsyncRetrying(
        wait=wait_random_exponential(multiplier=initial_s, max=max_s, min=initial_s / 2),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            async with lock:
                try:
                    await establish()
                except ProtocolError as exc:
                    failures += 1
                    record_error(str(exc))
                    if failures == 1 or not exc.retriable:
                        log.warning(
                            f"{event_prefix}.reconnect_failed", error=str(exc), attempt=failures
                        )
                    raise
    log.info(
        f"{event_prefix}.back",
        down_s=round(time.monotonic() - down_since, 3),
        attempts=failures + 1,
    )
    return failures + 1
