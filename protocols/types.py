"""Values that cross the driver boundary: a sampled value with its quality, and driver statistics."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Quality(enum.StrEnum):
    """Quality of a value, after OPC UA's severity classes (Part 4 §7.34)."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


Value = float | int | bool | str | None


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one point as the driver got it from the wire.

    ``key`` is the point key the caller gave in its point spec. ``value`` is decoded and scaled
    per the spec (``None`` when the quality is bad and there is no value). ``reason`` is a short
    machine-readable code for anything other than good (``"modbus.exception.2"``, ``"timeout"``,
    ``"opcua.BadSensorFailure"``, ``"mqtt.payload.not_json"``). ``status_code`` keeps the
    protocol's own code where it has one. Timestamps are POSIX seconds, UTC: ``source_ts`` is the
    device's or server's timestamp if the protocol carries one, ``received_ts`` when the driver got
    the answer. ``raw`` keeps what was on the wire (registers, payload) for diagnostics.
    """

    key: str
    value: Value
    quality: Quality
    received_ts: float
    source_ts: float | None = None
    reason: str | None = None
    status_code: int | None = None
    raw: Any = None


@dataclass(frozen=True, slots=True)
class DriverStatistics:
    """A snapshot of a driver's counters; the agent turns these into metrics."""

    url: str
    connected: bool
    requests: int = 0
    values: int = 0
    errors: int = 0
    timeouts: int = 0
    reconnects: int = 0
    requests_per_s: float = 0.0
    values_per_s: float = 0.0
    last_error: str | None = None
    last_error_ts: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
