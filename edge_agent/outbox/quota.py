"""Keeping the outbox under its disk quota: thin old readings first, drop only after that.

One *step* runs inside the caller's transaction and either

1. aggregates the oldest raw readings (not in flight) into per-minute records per stream
   (min / max / mean / count, worst quality), or, when no raw reading is left to aggregate,
2. drops the oldest aggregates.

Each step reports itself as ``Gap`` records, one per point touched, whose ``count`` is in raw
readings (``outbox.quota.aggregated``: readings now only in aggregates; ``outbox.quota.dropped``:
readings lost, counting the readings an aggregate stood for). Events, gaps and command results
are never touched: when they alone fill the quota the store stays over it and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiosqlite

from .codec import Stream, gap_body
from .errors import InvalidRecordError
from .schema import KIND_GAP, META_SEQ_RESERVED
from .seqmark import SeqAllocator
from .state import put_meta

REASON_AGGREGATED: Final = "outbox.quota.aggregated"
REASON_DROPPED: Final = "outbox.quota.dropped"
BUCKET_S: Final = 60  # per-minute aggregates

EventRow = tuple[int, str, float, str]  # seq, kind, ts, body: a row of the events table


@dataclass(slots=True)
class ThinningStep:
    """What one step did, for the counters and the caller's bookkeeping."""

    readings_aggregated: int = 0
    aggregates_created: int = 0
    readings_dropped: int = 0
    aggregates_dropped: int = 0
    gap_rows: list[EventRow] = field(default_factory=list)


async def aggregate_oldest(
    db: aiosqlite.Connection,
    *,
    limit_rows: int,
    streams: Mapping[int, Stream],
    allocate: Callable[[int], int],
    now: float,
) -> ThinningStep | None:
    """Turn up to ``limit_rows`` of the oldest raw readings into aggregates; ``None`` if none."""
    await db.execute("DELETE FROM temp.chunk")
    await db.execute(
        "INSERT INTO temp.chunk(seq) SELECT seq FROM readings"
        " WHERE seq NOT IN (SELECT seq FROM temp.inflight) ORDER BY seq LIMIT ?",
        (limit_rows,),
    )
    async with db.execute(
        "SELECT r.stream, MIN(r.source_ts), MAX(r.source_ts), COUNT(*),"
        " MIN(r.value), MAX(r.value), AVG(r.value), MAX(r.quality)"
        " FROM readings r JOIN temp.chunk c ON c.seq = r.seq"
        # one group per stream and minute (BUCKET_S = 60)
        " GROUP BY r.stream, CAST(r.source_ts / 60 AS INTEGER) ORDER BY MIN(r.seq)"
    ) as cursor:
        buckets = list(await cursor.fetchall())
    if not buckets:
        return None
    first = allocate(len(buckets))
    await db.executemany(
        "INSERT INTO aggregates(seq, stream, from_ts, to_ts, count, min, max, mean, quality)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(first + i, *bucket) for i, bucket in enumerate(buckets)],
    )
    async with db.execute(
        "SELECT r.stream, MIN(r.source_ts), MAX(r.source_ts), COUNT(*)"
        " FROM readings r JOIN temp.chunk c ON c.seq = r.seq"
        " GROUP BY r.stream ORDER BY MIN(r.seq)"
    ) as cursor:
        per_stream = list(await cursor.fetchall())
    await db.execute("DELETE FROM readings WHERE seq IN (SELECT seq FROM temp.chunk)")
    step = ThinningStep(aggregates_created=len(buckets))
    step.readings_aggregated = sum(int(row[3]) for row in per_stream)
    step.gap_rows = _gap_rows(per_stream, streams, REASON_AGGREGATED, allocate, now)
    return step


async def drop_oldest_aggregates(
    db: aiosqlite.Connection,
    *,
    limit_rows: int,
    streams: Mapping[int, Stream],
    allocate: Callable[[int], int],
    now: float,
) -> ThinningStep | None:
    """Delete up to ``limit_rows`` of the oldest aggregates (not in flight); ``None`` if none."""
    await db.execute("DELETE FROM temp.chunk")
    await db.execute(
        "INSERT INTO temp.chunk(seq) SELECT seq FROM aggregates"
        " WHERE seq NOT IN (SELECT seq FROM temp.inflight) ORDER BY seq LIMIT ?",
        (limit_rows,),
    )
    async with db.execute(
        "SELECT a.stream, MIN(a.from_ts), MAX(a.to_ts), SUM(a.count), COUNT(*)"
        " FROM aggregates a JOIN temp.chunk c ON c.seq = a.seq"
        " GROUP BY a.stream ORDER BY MIN(a.seq)"
    ) as cursor:
        per_stream = list(await cursor.fetchall())
    if not per_stream:
        return None
    await db.execute("DELETE FROM aggregates WHERE seq IN (SELECT seq FROM temp.chunk)")
    step = ThinningStep()
    step.aggregates_dropped = sum(int(row[4]) for row in per_stream)
    step.readings_dropped = sum(int(row[3]) for row in per_stream)
    step.gap_rows = _gap_rows(per_stream, streams, REASON_DROPPED, allocate, now)
    return step


def _gap_rows(
    per_stream: list[Any],
    streams: Mapping[int, Stream],
    reason: str,
    allocate: Callable[[int], int],
    now: float,
) -> list[EventRow]:
    first = allocate(len(per_stream))
    rows: list[EventRow] = []
    for i, (stream_id, from_ts, to_ts, count, *_rest) in enumerate(per_stream):
        point = streams[stream_id][0]
        try:
            body = gap_body(
                point=point, stream=None, from_ts=from_ts, to_ts=to_ts, count=count, reason=reason
            )
        except InvalidRecordError:
            # A point id central will not take must still be reported: name it as a stream.
            body = gap_body(
                point=None,
                stream=f"point:{point}"[:64],
                from_ts=from_ts,
                to_ts=to_ts,
                count=count,
                reason=reason,
            )
        rows.append((first + i, KIND_GAP, now, body))
    return rows


async def thin_once(
    db: aiosqlite.Connection,
    *,
    need_bytes: int,
    streams: Mapping[int, Stream],
    seqs: SeqAllocator,
    counters: Mapping[str, int],
    now: float,
) -> tuple[ThinningStep, dict[str, int]] | None:
    """One step in its own durable transaction (its gap records are events), then a checkpoint
    so the WAL gives its bytes back. Returns the step and the new counters; ``None`` if nothing
    is left to thin."""
    options: dict[str, Any] = {
        # A raw row frees ~24 bytes net of its share of an aggregate.
        "limit_rows": max(1_000, min(500_000, need_bytes // 24 + 1)),
        "streams": streams,
        "allocate": seqs.allocate,
        "now": now,
    }
    await db.execute("PRAGMA synchronous=FULL")
    try:
        await db.execute("BEGIN IMMEDIATE")
        try:
            step = await aggregate_oldest(db, **options)
            if step is None:
                step = await drop_oldest_aggregates(db, **options)
            if step is None:
                await db.execute("ROLLBACK")
                return None
            await db.executemany(
                "INSERT INTO events(seq, kind, ts, body) VALUES (?, ?, ?, ?)", step.gap_rows
            )
            new_counters = dict(counters)
            new_counters["gaps_total"] += len(step.gap_rows)
            new_counters["degraded_readings"] += step.readings_aggregated
            new_counters["dropped_readings"] += step.readings_dropped
            await put_meta(db, {**new_counters, META_SEQ_RESERVED: seqs.reserved_through})
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    finally:
        await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return step, new_counters
