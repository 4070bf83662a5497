"""Which stored records make up each sync lane, and how a lane is read.

- ``events``: the ``events`` table (events, gaps, command results), by seq.
- ``live``: readings received within the live window, newest first.
- ``backlog``: aggregates (the oldest data, already thinned), then older readings, by seq.

Every lane skips records in flight (``temp.inflight``). Readings are found through a *live floor*
(the first seq of the oldest commit that still holds a live reading) so that neither lane needs
an index on ``received_ts``: live = at or above the floor and young enough; backlog = below the
floor, or above it and aged out. Together the two cover every reading whatever the clock did.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Final

import aiosqlite
from pydantic import ValidationError

from protocols.sync import Lane

from . import codec
from .pending import Record

Refused = tuple[int, str, str, str]  # seq, kind, body as JSON, why it does not fit the schema

SELECT_EVENTS: Final = (
    "SELECT seq, kind, body FROM events"
    " WHERE seq NOT IN (SELECT seq FROM temp.inflight) ORDER BY seq LIMIT ?"
)
SELECT_AGGREGATES: Final = (
    "SELECT seq, stream, from_ts, to_ts, count, min, max, mean, quality FROM aggregates"
    " WHERE seq NOT IN (SELECT seq FROM temp.inflight) ORDER BY seq LIMIT ?"
)
# Newest first: after an outage the freshest values reach central before older live ones.
SELECT_LIVE: Final = (
    "SELECT seq, stream, value, quality, reason, source_ts, received_ts FROM readings"
    " WHERE seq >= ? AND received_ts >= ? AND seq NOT IN (SELECT seq FROM temp.inflight)"
    " ORDER BY seq DESC LIMIT ?"
)
SELECT_OLD: Final = (
    "SELECT seq, stream, value, quality, reason, source_ts, received_ts FROM readings"
    " WHERE seq < ? AND seq NOT IN (SELECT seq FROM temp.inflight) ORDER BY seq LIMIT ?"
)
SELECT_AGED: Final = (
    "SELECT seq, stream, value, quality, reason, source_ts, received_ts FROM readings"
    " WHERE seq >= ? AND received_ts < ? AND seq NOT IN (SELECT seq FROM temp.inflight)"
    " ORDER BY seq LIMIT ?"
)
# An ack deletes only records in flight: a stray range can never delete an unsent record.
ACK_READINGS: Final = (
    "DELETE FROM readings WHERE seq BETWEEN ? AND ? AND seq IN (SELECT seq FROM temp.inflight)"
)
ACK_AGGREGATES: Final = (
    "DELETE FROM aggregates WHERE seq BETWEEN ? AND ? AND seq IN (SELECT seq FROM temp.inflight)"
)
ACK_EVENTS: Final = (
    "DELETE FROM events WHERE seq BETWEEN ? AND ? AND seq IN (SELECT seq FROM temp.inflight)"
)


class LiveMarks:
    """(first seq of a commit, newest ``received_ts`` in it), oldest first: where live starts."""

    __slots__ = ("_marks",)

    def __init__(self) -> None:
        self._marks: deque[tuple[int, float]] = deque()

    def note(self, first_seq: int, newest_received_ts: float) -> None:
        self._marks.append((first_seq, newest_received_ts))

    def floor(self, cutoff: float, next_seq: int) -> int:
        """The lowest seq that can hold a reading received at or after ``cutoff``."""
        marks = self._marks
        while marks and marks[0][1] < cutoff:
            marks.popleft()
        return marks[0][0] if marks else next_seq


async def select(
    db: aiosqlite.Connection,
    lane: Lane,
    limit: int,
    *,
    streams: Mapping[int, codec.Stream],
    floor: int,
    cutoff: float,
) -> tuple[list[Record], list[Refused]]:
    """Up to ``limit`` takeable records of ``lane`` as wire models; rows that fail validation
    come back apart (they count against ``limit`` too)."""
    records: list[Record] = []
    refused: list[Refused] = []
    if lane is Lane.EVENTS:
        async with db.execute(SELECT_EVENTS, (limit,)) as cursor:
            for seq, kind, body in await cursor.fetchall():
                try:
                    records.append(codec.event_lane_model(seq, kind, body))
                except (ValidationError, ValueError) as exc:
                    refused.append((seq, kind, body, _why(exc)))
        return records, refused
    queries: list[tuple[str, tuple[float, ...]]]
    if lane is Lane.LIVE:
        queries = [(SELECT_LIVE, (floor, cutoff))]
    else:
        async with db.execute(SELECT_AGGREGATES, (limit,)) as cursor:
            for seq, stream, *rest in await cursor.fetchall():
                try:
                    records.append(codec.aggregate_model(seq, streams[stream], tuple(rest)))
                except ValidationError as exc:
                    refused.append((seq, "aggregate", repr(rest), _why(exc)))
        queries = [(SELECT_OLD, (floor,)), (SELECT_AGED, (floor, cutoff))]
    stamps = codec.UtcStamps()
    for sql, params in queries:
        room = limit - len(records) - len(refused)
        if room <= 0:
            break
        async with db.execute(sql, (*params, room)) as cursor:
            rows = await cursor.fetchall()
        for seq, stream, *rest in rows:
            key = streams[stream]
            try:
                records.append(codec.reading_model(seq, key, *rest, stamps=stamps))
            except ValidationError as exc:
                body = codec.reading_json(seq, key, tuple(rest))
                refused.append((seq, "reading", body, _why(exc)))
    return records, refused


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return codec.describe_validation_error(exc)
    return str(exc)
