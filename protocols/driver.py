"""The driver contract: one object per device connection.

There are two shapes. A *polling* driver is asked for values (Modbus, OPC UA plain reads):
``plan(points)`` once, then ``read(plan)`` on every poll. A *streaming* driver delivers values
as they arrive (MQTT, OPC UA subscriptions): ``subscribe(points)`` once, then
``async for sample in driver.stream()``. Both connect, write (interlocks) and close, and every
I/O call is bounded by the driver's timeouts.

Scheduling, poll intervals and retry policy between polls belong to the agent. A driver
reconnects by itself inside ``read``/``stream`` (with backoff), and reports a failed read as
samples of bad quality, one per affected point, never as invented values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .types import DriverStatistics, Sample, Value


@dataclass(frozen=True, slots=True)
class PointSpec:
    """Base of every protocol's point spec: ``key`` names the point in the samples returned."""

    key: str


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Separate connect and I/O timeouts, in seconds."""

    connect_s: float = 5.0
    io_s: float = 2.0

    def __post_init__(self) -> None:
        if self.connect_s <= 0 or self.io_s <= 0:
            raise ValueError(
                f"timeouts must be positive, got connect_s={self.connect_s}, io_s={self.io_s}"
            )


@runtime_checkable
class Driver(Protocol):
    """What every driver offers."""

    url: str

    async def connect(self) -> None:
        """Open the connection; raise ``ConnectError`` if the peer cannot be reached."""

    async def close(self) -> None:
        """Close the connection; idempotent."""

    async def write(self, point: Any, value: Value) -> None:
        """Write one value (coil, register, node, topic); raise ``WriteError`` if refused."""

    def statistics(self) -> DriverStatistics:
        """Counters since the driver was created."""


@runtime_checkable
class PollingDriver(Driver, Protocol):
    def plan(self, points: Sequence[Any]) -> Any:
        """Turn point specs into a read plan (validated here: a bad spec raises ``ConfigError``)."""

    async def read(self, plan: Any) -> list[Sample]:
        """Read everything in the plan: exactly one sample per planned point, good or bad."""


@runtime_checkable
class StreamingDriver(Driver, Protocol):
    async def subscribe(self, points: Sequence[Any]) -> None:
        """Declare the points to deliver; may be called before or after ``connect``."""

    def stream(self) -> AsyncIterator[Sample]:
        """Samples as they arrive, across reconnects, until ``close``."""
