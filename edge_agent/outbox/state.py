"""Reading the store's state: what a reopened file holds, the bytes it uses, its counters."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiosqlite

from . import codec
from .errors import OutboxSchemaError
from .schema import COUNTER_KEYS, META_SCHEMA_VERSION, META_SEQ_RESERVED, SCHEMA_VERSION

EVENT_LANE_KINDS: Final = {"event": "events", "gap": "gaps", "command_result": "command_results"}
_LIVE_SCAN_ROWS: Final = 200_000  # at open, look this far back for readings still live
_KEPT_COMMAND_IDS: Final = 10_000  # command ids remembered against a resend


@dataclass(slots=True)
class StoredState:
    """What an opened file knows. ``high_water`` is the largest seq it stored or reserved."""

    high_water: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    streams: dict[int, codec.Stream] = field(default_factory=dict)
    readings: int = 0
    aggregates: int = 0
    live_mark: tuple[int, float] | None = None


async def put_meta(db: aiosqlite.Connection, values: Mapping[str, object]) -> None:
    await db.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(key, str(value)) for key, value in values.items()],
    )


async def load(db: aiosqlite.Connection, path: Path, *, live_cutoff: float) -> StoredState:
    """Read a freshly opened store (and stamp a new one with the schema version)."""
    meta: dict[str, str] = {}
    async with db.execute("SELECT key, value FROM meta") as cursor:
        for key, value in await cursor.fetchall():
            meta[str(key)] = str(value)
    version = int(meta.get(META_SCHEMA_VERSION, "0"))
    if version > SCHEMA_VERSION:
        raise OutboxSchemaError(
            f"outbox file {path} has schema version {version}; this agent reads up to"
            f" {SCHEMA_VERSION}: upgrade the agent or point it at another file"
        )
    if version == 0:
        await put_meta(db, {META_SCHEMA_VERSION: SCHEMA_VERSION})
    state = StoredState(
        high_water=int(meta.get(META_SEQ_RESERVED, "0")),
        counters={key: int(meta.get(key, "0")) for key in COUNTER_KEYS},
    )
    async with db.execute(
        "SELECT MAX(s) FROM ("
        " SELECT MAX(seq) AS s FROM readings UNION ALL SELECT MAX(seq) FROM aggregates"
        " UNION ALL SELECT MAX(seq) FROM events UNION ALL SELECT MAX(seq) FROM quarantine"
        " UNION ALL SELECT MAX(result_seq) FROM commands)"
    ) as cursor:
        row = await cursor.fetchone()
    if row is not None and row[0] is not None:
        state.high_water = max(state.high_water, int(row[0]))
    async with db.execute("SELECT id, point, quantity, unit FROM streams") as cursor:
        for stream, point, quantity, unit in await cursor.fetchall():
            state.streams[int(stream)] = (str(point), str(quantity), str(unit))
    async with db.execute(
        "SELECT (SELECT COUNT(*) FROM readings), (SELECT COUNT(*) FROM aggregates)"
    ) as cursor:
        row = await cursor.fetchone()
    if row is not None:
        state.readings, state.aggregates = int(row[0]), int(row[1])
    async with db.execute(
        "SELECT MIN(seq), MAX(received_ts) FROM (SELECT seq, received_ts FROM readings"
        " ORDER BY seq DESC LIMIT ?) WHERE received_ts >= ?",
        (_LIVE_SCAN_ROWS, live_cutoff),
    ) as cursor:
        row = await cursor.fetchone()
    if row is not None and row[0] is not None:
        state.live_mark = (int(row[0]), float(row[1]))
    await db.execute(
        "DELETE FROM commands WHERE id NOT IN"
        " (SELECT id FROM commands ORDER BY received_ts DESC LIMIT ?)",
        (_KEPT_COMMAND_IDS,),
    )
    return state


async def count_event_lane(db: aiosqlite.Connection) -> dict[str, int]:
    counts = dict.fromkeys(EVENT_LANE_KINDS.values(), 0)
    async with db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind") as cursor:
        for kind, count in await cursor.fetchall():
            if kind in EVENT_LANE_KINDS:
                counts[EVENT_LANE_KINDS[kind]] = int(count)
    return counts


async def oldest_unsent(db: aiosqlite.Connection) -> float | None:
    """The time of the oldest stored record (readings: received; aggregates: from; else ts)."""
    async with db.execute(
        "SELECT MIN(ts) FROM ("
        " SELECT (SELECT received_ts FROM readings ORDER BY seq LIMIT 1) AS ts"
        " UNION ALL SELECT (SELECT from_ts FROM aggregates ORDER BY seq LIMIT 1)"
        " UNION ALL SELECT (SELECT ts FROM events ORDER BY seq LIMIT 1))"
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def bytes_used(db: aiosqlite.Connection, path: Path) -> int:
    """Bytes really used: live pages plus the WAL (the quota counts both)."""
    async with db.execute(
        "SELECT p.page_count, f.freelist_count, s.page_size"
        " FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s"
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    try:  # one stat of a local file: microseconds, not worth a thread hop
        wal_bytes = os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        wal_bytes = 0
    return int((row[0] - row[1]) * row[2]) + wal_bytes
