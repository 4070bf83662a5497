"""A bounded wait for a condition, polled from the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(
    predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.02
) -> None:
    """Poll ``predicate`` every ``interval_s`` until it is truthy; after ``timeout_s`` fail the
    test with an ``AssertionError`` naming ``what``."""
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await asyncio.sleep(interval_s)
    except TimeoutError:
        raise AssertionError(f"{what} not within {timeout_s} s") from None
