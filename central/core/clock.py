"""Time for the parts of central that judge it: office hours, windows, KPI periods.

The app holds one :class:`Clock` (``CentralState.clock``); tests inject their own to replay a
night of exports. Timestamps are epoch microseconds (:mod:`central.core.epoch`).
"""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .epoch import from_us, now_us


class Clock(Protocol):
    def now_us(self) -> int: ...


class SystemClock:
    """The wall clock."""

    def now_us(self) -> int:
        return now_us()


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``ValueError`` naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Asia/Shanghai' or 'UTC')"
        ) from exc


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def local(us: int, tz: str) -> datetime:
    return from_us(us).astimezone(zone(tz))


def out_of_hours(us: int, tz: str, start: str, end: str) -> bool:
    """True when ``us`` falls outside [start, end) local time in ``tz``.

    ``start`` later than ``end`` means office hours span midnight (a night shift's office).
    """
    t = local(us, tz).time()
    opens, closes = parse_hhmm(start), parse_hhmm(end)
    inside = opens <= t < closes if opens <= closes else (t >= opens or t < closes)
    return not inside


__all__ = ["Clock", "SystemClock", "local", "out_of_hours", "parse_hhmm", "zone"]
