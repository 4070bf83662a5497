"""A Modbus connection's counters and availability, and the one place that logs its state.

``ModbusDriver.statistics()`` is a snapshot of this. Availability changes are logged once each
(``unavailable`` with the reason, ``back`` when the device answers again), never per poll.
"""

from __future__ import annotations

import time
from typing import Any

from protocols.errors import ProtocolError
from protocols.stats import RateMeter
from protocols.types import DriverStatistics

__all__ = ["ConnectionHealth"]


class ConnectionHealth:
    """Counters since the driver was made, and whether the device is answering."""

    def __init__(self, logger: Any) -> None:
        self.log = logger
        self.requests = RateMeter()
        self.values = RateMeter()  # registers (or bits) received
        self.errors = 0
        self.timeouts = 0
        self.reconnects = 0
        self.exceptions = 0
        self.last_error: str | None = None
        self.last_error_ts: float | None = None
        self.available: bool | None = None  # None until the first poll says either way

    def error(self, exc: ProtocolError, kind: str) -> None:
        self.errors += 1
        self.last_error = f"{kind}: {exc}"
        self.last_error_ts = time.time()

    def set_available(self, available: bool, **details: Any) -> None:
        """Record whether the device answers; log only a change."""
        if self.available is available:
            return
        was, self.available = self.available, available
        if available and was is False:
            self.log.info("back", reconnects=self.reconnects)
        elif not available:
            self.log.warning("unavailable", **details)

    def snapshot(self, url: str, *, connected: bool, refused_spans: int) -> DriverStatistics:
        return DriverStatistics(
            url=url,
            connected=connected,
            requests=self.requests.total,
            values=self.values.total,
            errors=self.errors,
            timeouts=self.timeouts,
            reconnects=self.reconnects,
            requests_per_s=self.requests.rate(),
            values_per_s=self.values.rate(),
            last_error=self.last_error,
            last_error_ts=self.last_error_ts,
            extra={
                "exceptions": self.exceptions,
                "refused_spans": refused_spans,
                "available": self.available,
            },
        )
