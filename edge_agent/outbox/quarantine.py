"""The quarantine: records that cannot be sent, kept locally for recovery, and said so.

A record lands here when central refused it on its own (HTTP 422 after bisection, or 413 for a
single record) or when it no longer fits the wire schema. It is moved in one durable transaction
with a ``system.sync_quarantine`` event naming what and why, so nothing disappears silently and
one bad record never blocks a lane.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiosqlite

from edge_agent.records import EventRecord
from protocols.sync import AlarmEvent, EventCategory, Priority, seq_ranges

from . import codec
from .pending import Record
from .quota import EventRow
from .schema import KIND_EVENT
from .state import put_meta

KIND_QUARANTINE: Final = "system.sync_quarantine"

Item = tuple[int, str, str]  # seq, record kind, the record as JSON


@dataclass(frozen=True, slots=True)
class Moved:
    """Rows deleted from each source table, and in-flight marks released."""

    readings: int
    aggregates: int
    released: int


def is_notice(record: Record) -> bool:
    return isinstance(record, AlarmEvent) and record.kind == KIND_QUARANTINE


def notice(items: list[Item], reason: str, *, outbox: Path, now: float) -> EventRecord:
    """The ``system.sync_quarantine`` event for ``items``."""
    kinds: dict[str, int] = {}
    for _seq, kind, _body in items:
        kinds[kind] = kinds.get(kind, 0) + 1
    return EventRecord(
        event_id=uuid.uuid4().hex,
        category=EventCategory.SYSTEM,
        kind=KIND_QUARANTINE,
        transition="occurred",
        ts=now,
        priority=Priority.MEDIUM,
        message=f"{len(items)} record(s) quarantined on the agent: {reason}"[:2000],
        details={
            "count": len(items),
            "kinds": kinds,
            "seq_ranges": seq_ranges([seq for seq, _k, _b in items])[:100],
            "reason": reason[:1000],
            "outbox": str(outbox),
            "table": "quarantine",
        },
    )


async def move(
    db: aiosqlite.Connection,
    items: list[Item],
    reason: str,
    *,
    notice_row: EventRow | None,
    meta: Mapping[str, object],
    now: float,
) -> Moved:
    """Move ``items`` to the quarantine table, with the notice, in one durable transaction."""
    seqs = [(seq,) for seq, _kind, _body in items]
    await db.execute("PRAGMA synchronous=FULL")
    try:
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.executemany(
                "INSERT OR REPLACE INTO quarantine(seq, kind, body, reason, quarantined_ts)"
                " VALUES (?, ?, ?, ?, ?)",
                [(seq, kind, body, reason[:2000], now) for seq, kind, body in items],
            )
            readings = await db.executemany("DELETE FROM readings WHERE seq = ?", seqs)
            aggregates = await db.executemany("DELETE FROM aggregates WHERE seq = ?", seqs)
            await db.executemany("DELETE FROM events WHERE seq = ?", seqs)
            released = await db.executemany("DELETE FROM temp.inflight WHERE seq = ?", seqs)
            if notice_row is not None:
                await db.execute(
                    "INSERT INTO events(seq, kind, ts, body) VALUES (?, ?, ?, ?)", notice_row
                )
            await put_meta(db, meta)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    finally:
        await db.execute("PRAGMA synchronous=NORMAL")
    return Moved(
        readings=max(readings.rowcount, 0),
        aggregates=max(aggregates.rowcount, 0),
        released=max(released.rowcount, 0),
    )


def notice_row(event: EventRecord, seq: int) -> EventRow:
    return (seq, KIND_EVENT, event.ts, codec.event_body(event))
