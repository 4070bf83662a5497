"""When to try a dropped connection again: exponential backoff with jitter, never sleeping.

The driver must not block a poll while it waits to reconnect, so this is a schedule, not a
retry loop: ``due()`` says whether an attempt may run now, ``failed()`` pushes the next attempt
out (tenacity's ``wait_exponential_jitter``: ``min_s * 2**n`` plus up to ``jitter_s``, capped at
``max_s``), ``succeeded()`` resets it. The first attempt after a drop is due at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, wait_exponential_jitter

__all__ = ["ReconnectSchedule"]


class ReconnectSchedule:
    """Attempt times for reconnecting; ``clock`` is injectable for tests (monotonic seconds)."""

    def __init__(
        self,
        *,
        min_s: float = 0.5,
        max_s: float = 30.0,
        jitter_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(
                f"reconnect delays must satisfy 0 < min_s <= max_s, got {min_s}, {max_s}"
            )
        jitter = min_s if jitter_s is None else jitter_s
        self._wait = wait_exponential_jitter(multiplier=min_s, max=max_s, jitter=jitter)
        self._state = RetryCallState(Retrying(), None, (), {})
        self._clock = clock
        self.failures = 0
        self.next_attempt_at = 0.0

    def due(self) -> bool:
        return self._clock() >= self.next_attempt_at

    def failed(self) -> float:
        """Record a failed attempt; returns the delay until the next one."""
        self.failures += 1
        self._state.attempt_number = self.failures
        delay = float(self._wait(self._state))
        self.next_attempt_at = self._clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt_at = 0.0
