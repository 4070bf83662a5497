"""A small rate meter shared by the drivers' statistics."""

from __future__ import annotations

import time
from collections import deque


class RateMeter:
    """Counts events and reports their rate over a sliding window (default 10 s)."""

    __slots__ = ("_events", "_window_s", "total")

    def __init__(self, window_s: float = 10.0) -> None:
        self._window_s = window_s
        self._events: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, n: int = 1, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.total += n
        self._events.append((now, n))
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        if not self._events:
            return 0.0
        span = max(now - self._events[0][0], 1e-3)
        return sum(n for _, n in self._events) / max(span, min(self._window_s, 1.0))

    def _trim(self, now: float) -> None:
        limit = now - self._window_s
        events = self._events
        while events and events[0][0] < limit:
            events.popleft()
