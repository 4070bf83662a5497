"""Timestamps as stored: integer microseconds since the Unix epoch, UTC.

Every time column is a BIGINT of epoch microseconds, so SQLite and PostgreSQL store and compare
them alike, time buckets are integer arithmetic, and a row costs 8 bytes per timestamp.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
US_PER_S = 1_000_000


def to_us(ts: datetime) -> int:
    """Exact epoch microseconds of an aware datetime (naive ones are taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    """The aware UTC datetime of epoch microseconds."""
    return EPOCH + timedelta(microseconds=us)


def now_us() -> int:
    return time.time_ns() // 1000


def iso(us: int | None) -> str | None:
    """ISO 8601 with ``Z``, for API answers and error messages."""
    if us is None:
        return None
    return from_us(us).isoformat().replace("+00:00", "Z")
