"""Local days of a plant: the windows [local midnight, next local midnight) in epoch µs.

A compliance day is the plant's calendar day in its time zone (a shift pattern lives there), so
day windows follow the zone's offset on each date, DST included. The roll-up is hourly (UTC), so
for a zone whose offset is not a whole number of hours a day is approximated by the UTC hours
that start inside it; the ledger says which basis it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from central.core.clock import local, zone
from central.core.epoch import to_us
from central.models import HOUR_US


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    start_us: int
    end_us: int


def local_days(start_us: int, end_us: int, tz: str) -> list[Day]:
    """Every local day of ``tz`` that [start, end) touches, in order."""
    z = zone(tz)
    first = local(start_us, tz).date()
    last = local(max(start_us, end_us - 1), tz).date()
    out: list[Day] = []
    d = first
    while d <= last:
        nxt = d + timedelta(days=1)
        out.append(
            Day(
                day=d,
                start_us=to_us(datetime.combine(d, time(), tzinfo=z)),
                end_us=to_us(datetime.combine(nxt, time(), tzinfo=z)),
            )
        )
        d = nxt
    return out


def offset_segments(days: list[Day], tz: str) -> list[tuple[int, int]]:
    """(from_us, utc offset in µs) from the first day on: one entry, plus one per offset change
    (a DST switch) inside the days. Changes happen on the hour in zones with whole-hour offsets,
    so each day's hours are searched for it."""

    def offset(us: int) -> int:
        delta = local(us, tz).utcoffset()
        assert delta is not None
        return delta // timedelta(microseconds=1)

    segments = [(days[0].start_us, offset(days[0].start_us))] if days else []
    for d in days:
        if offset(d.end_us - 1) == segments[-1][1]:
            continue
        t = d.start_us
        while t < d.end_us and offset(t) == segments[-1][1]:
            t += HOUR_US
        segments.append((t, offset(t)))
    return segments


def whole_hour_offsets(days: list[Day]) -> bool:
    return all(d.start_us % HOUR_US == 0 for d in days)


__all__ = ["Day", "local_days", "offset_segments", "whole_hour_offsets"]
