"""The outbox's SQLite schema, its version, and the connection settings it relies on.

The schema knows nothing of the plant's device config: a point is a string, and a reading's
(point, quantity, unit) is interned in ``streams`` only to keep rows small. Reloading or changing
the plant config therefore never touches a buffered row.

Tables (every record table is keyed by the agent's one monotonic ``seq``):

- ``readings``: raw readings, ~32 bytes a row.
- ``aggregates``: readings thinned into per-minute records when the disk quota ran short.
- ``events``: alarm events, gaps and command results (``kind``), the wire model as JSON ``body``.
- ``quarantine``: records central refused (or that fail the wire schema), kept for recovery.
- ``commands``: ids of commands received from central, so none runs twice.
- ``meta``: schema version, the seq reservation and the persistent counters.
"""

from __future__ import annotations

from typing import Final

from protocols.types import Quality

SCHEMA_VERSION: Final = 1

# Stored as small integers: SQLite keeps 0 and 1 in the record header, for free. The order is
# the severity order, so MAX(quality) is the worst quality of a group.
QUALITY_CODE: Final[dict[Quality, int]] = {Quality.GOOD: 0, Quality.UNCERTAIN: 1, Quality.BAD: 2}
QUALITY_OF_CODE: Final[dict[int, Quality]] = {code: q for q, code in QUALITY_CODE.items()}

# Event-lane kinds in the ``events`` table.
KIND_EVENT: Final = "event"
KIND_GAP: Final = "gap"
KIND_COMMAND_RESULT: Final = "command_result"

# auto_vacuum must be set before the first table exists; it only matters for a fresh file.
FRESH_FILE_PRAGMAS: Final = ("PRAGMA auto_vacuum=INCREMENTAL",)

DDL: Final = (
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS streams (
        id INTEGER PRIMARY KEY,
        point TEXT NOT NULL,
        quantity TEXT NOT NULL,
        unit TEXT NOT NULL,
        UNIQUE (point, quantity, unit)
    )""",
    """CREATE TABLE IF NOT EXISTS readings (
        seq INTEGER PRIMARY KEY,
        stream INTEGER NOT NULL,
        value REAL,
        quality INTEGER NOT NULL,
        reason TEXT,
        source_ts REAL NOT NULL,
        received_ts REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS aggregates (
        seq INTEGER PRIMARY KEY,
        stream INTEGER NOT NULL,
        from_ts REAL NOT NULL,
        to_ts REAL NOT NULL,
        count INTEGER NOT NULL,
        min REAL,
        max REAL,
        mean REAL,
        quality INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        ts REAL NOT NULL,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        reason TEXT NOT NULL,
        quarantined_ts REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS commands (
        id TEXT PRIMARY KEY,
        received_ts REAL NOT NULL,
        result_seq INTEGER
    )""",
)

# Per connection. temp_store=MEMORY keeps the in-flight set off the disk quota.
CONNECTION_PRAGMAS: Final = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-16000",
    "PRAGMA foreign_keys=OFF",
)

TEMP_DDL: Final = (
    # Seqs taken by a PendingBatch and not yet acked or released.
    "CREATE TEMP TABLE IF NOT EXISTS inflight (seq INTEGER PRIMARY KEY)",
    # Scratch set for one degradation step.
    "CREATE TEMP TABLE IF NOT EXISTS chunk (seq INTEGER PRIMARY KEY)",
)

# meta keys
META_SCHEMA_VERSION: Final = "schema_version"
META_SEQ_RESERVED: Final = "seq_reserved"
COUNTER_KEYS: Final = ("gaps_total", "degraded_readings", "dropped_readings", "quarantined")
