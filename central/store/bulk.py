"""The hot path of ingest, per database: the seq ledger, readings and latest values in bulk.

Both writers take the DBAPI cursor of the transaction ingest opened and never build a Python
object per reading. SQLite gets ``executemany`` over zipped columns (its fastest path, in C).
PostgreSQL gets each column as one array parameter and ``unnest`` in a single statement per
table, one round trip for a thousand rows; the ledger insert reports the fresh seqs with
``ON CONFLICT DO NOTHING RETURNING``, which also makes two concurrent copies of the same batch
safe (the second waits on the first's row locks, then sees the conflict).
"""

from __future__ import annotations

import abc
import json
from itertools import repeat
from typing import Any

from central.ingest.prepare import PreparedBatch, ReadingColumns

LatestRows = list[tuple[int, int, int, float | None, int, str | None, int]]
"""(point_id, source_us, received_us, value, quality, reason, seq), one per point."""


class BulkWriter(abc.ABC):
    """The dialect-specific statements of one ingest transaction."""

    dialect: str

    @abc.abstractmethod
    def insert_batch_row(self, cur: Any, p: PreparedBatch) -> int:
        """Record the batch's receipt; returns its id for the ledger."""

    @abc.abstractmethod
    def finish_batch_row(self, cur: Any, batch_id: int, fresh: int) -> None: ...

    @abc.abstractmethod
    def claim_seqs(
        self, cur: Any, agent_id: int, batch_id: int, seqs: list[int], kinds: list[int]
    ) -> set[int] | None:
        """Enter seqs in the ledger; returns the seqs new to it, or None when all were new."""

    @abc.abstractmethod
    def insert_readings(
        self, cur: Any, agent_id: int, cols: ReadingColumns, point_ids: list[int]
    ) -> None: ...

    @abc.abstractmethod
    def upsert_latest(self, cur: Any, agent_id: int, rows: LatestRows) -> None:
        """Move each point's latest value forward; never backwards (backlog data is older)."""


class SqliteBulkWriter(BulkWriter):
    dialect = "sqlite"

    def insert_batch_row(self, cur: Any, p: PreparedBatch) -> int:
        cur.execute(
            "INSERT INTO ingest_batch (agent_id, batch_key, lane, sent_ts, received_ts, "
            "records, fresh) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (p.agent.agent_id, p.batch_key, p.lane, p.sent_us, p.received_us, p.record_count),
        )
        return int(cur.lastrowid)

    def finish_batch_row(self, cur: Any, batch_id: int, fresh: int) -> None:
        cur.execute("UPDATE ingest_batch SET fresh = ? WHERE id = ?", (fresh, batch_id))

    def claim_seqs(
        self, cur: Any, agent_id: int, batch_id: int, seqs: list[int], kinds: list[int]
    ) -> set[int] | None:
        lo, hi = min(seqs), max(seqs)
        if hi - lo < 2 * len(seqs):
            # Contiguous-ish batch (the usual case): one range scan of the ledger's key.
            cur.execute(
                "SELECT seq FROM seq_ledger WHERE agent_id = ? AND seq BETWEEN ? AND ?",
                (agent_id, lo, hi),
            )
        else:
            cur.execute(
                "SELECT seq FROM seq_ledger WHERE agent_id = ? AND seq IN "
                "(SELECT value FROM json_each(?))",
                (agent_id, json.dumps(seqs)),
            )
        existing = {row[0] for row in cur.fetchall()}
        if existing:
            rows = [(agent_id, s, batch_id, k) for s, k in zip(seqs, kinds, strict=True)]
            rows = [r for r in rows if r[1] not in existing]
        else:
            rows = list(zip(repeat(agent_id), seqs, repeat(batch_id), kinds))
        cur.executemany(
            "INSERT INTO seq_ledger (agent_id, seq, batch_id, kind) VALUES (?, ?, ?, ?)", rows
        )
        if not existing:
            return None
        return {r[1] for r in rows}

    def insert_readings(
        self, cur: Any, agent_id: int, cols: ReadingColumns, point_ids: list[int]
    ) -> None:
        cur.executemany(
            "INSERT INTO reading (point_id, source_ts, agent_id, seq, received_ts, value, "
            "quality, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                point_ids,
                cols.source_us,
                repeat(agent_id),
                cols.seq,
                cols.received_us,
                cols.value,
                cols.quality,
                cols.reason,
            ),
        )

    def upsert_latest(self, cur: Any, agent_id: int, rows: LatestRows) -> None:
        cur.executemany(
            "INSERT INTO latest_reading (point_id, source_ts, received_ts, value, quality, "
            "reason, seq, agent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (point_id) DO UPDATE SET source_ts = excluded.source_ts, "
            "received_ts = excluded.received_ts, value = excluded.value, "
            "quality = excluded.quality, reason = excluded.reason, seq = excluded.seq, "
            "agent_id = excluded.agent_id "
            "WHERE (excluded.source_ts, excluded.seq) > "
            "(latest_reading.source_ts, latest_reading.seq)",
            [(*r, agent_id) for r in rows],
        )


class PostgresBulkWriter(BulkWriter):
    dialect = "postgresql"

    def insert_batch_row(self, cur: Any, p: PreparedBatch) -> int:
        cur.execute(
            "INSERT INTO ingest_batch (agent_id, batch_key, lane, sent_ts, received_ts, "
            "records, fresh) VALUES (%s, %s, %s, %s, %s, %s, 0) RETURNING id",
            (p.agent.agent_id, p.batch_key, p.lane, p.sent_us, p.received_us, p.record_count),
        )
        return int(cur.fetchone()[0])

    def finish_batch_row(self, cur: Any, batch_id: int, fresh: int) -> None:
        cur.execute("UPDATE ingest_batch SET fresh = %s WHERE id = %s", (fresh, batch_id))

    def claim_seqs(
        self, cur: Any, agent_id: int, batch_id: int, seqs: list[int], kinds: list[int]
    ) -> set[int] | None:
        # Sorted, so concurrent batches of one agent lock ledger keys in the same order.
        cur.execute(
            "INSERT INTO seq_ledger (agent_id, seq, batch_id, kind) "
            "SELECT %s, s, %s, k FROM unnest(%s::int8[], %s::int2[]) AS t(s, k) ORDER BY s "
            "ON CONFLICT DO NOTHING RETURNING seq",
            (agent_id, batch_id, seqs, kinds),
        )
        fresh = cur.fetchall()
        if len(fresh) == len(seqs):
            return None
        return {row[0] for row in fresh}

    def insert_readings(
        self, cur: Any, agent_id: int, cols: ReadingColumns, point_ids: list[int]
    ) -> None:
        cur.execute(
            "INSERT INTO reading (point_id, source_ts, agent_id, seq, received_ts, value, "
            "quality, reason) SELECT p, s, %s, q, r, v, qu, re FROM unnest("
            "%s::int4[], %s::int8[], %s::int8[], %s::int8[], %s::float8[], %s::int2[], "
            "%s::text[]) AS t(p, s, q, r, v, qu, re)",
            (
                agent_id,
                point_ids,
                cols.source_us,
                cols.seq,
                cols.received_us,
                cols.value,
                cols.quality,
                cols.reason,
            ),
        )

    def upsert_latest(self, cur: Any, agent_id: int, rows: LatestRows) -> None:
        if not rows:
            return
        rows = sorted(rows)  # lock latest rows in point order: no deadlock between batches
        p, s, r, v, q, re, sq = (list(c) for c in zip(*rows, strict=True))
        cur.execute(
            "INSERT INTO latest_reading (point_id, source_ts, received_ts, value, quality, "
            "reason, seq, agent_id) SELECT p, s, r, v, q, re, sq, %s FROM unnest("
            "%s::int4[], %s::int8[], %s::int8[], %s::float8[], %s::int2[], %s::text[], "
            "%s::int8[]) AS t(p, s, r, v, q, re, sq) "
            "ON CONFLICT (point_id) DO UPDATE SET source_ts = EXCLUDED.source_ts, "
            "received_ts = EXCLUDED.received_ts, value = EXCLUDED.value, "
            "quality = EXCLUDED.quality, reason = EXCLUDED.reason, seq = EXCLUDED.seq, "
            "agent_id = EXCLUDED.agent_id "
            "WHERE (EXCLUDED.source_ts, EXCLUDED.seq) > "
            "(latest_reading.source_ts, latest_reading.seq)",
            (agent_id, p, s, r, v, q, re, sq),
        )


def writer_for(dialect: str) -> BulkWriter:
    if dialect == "sqlite":
        return SqliteBulkWriter()
    if dialect == "postgresql":
        return PostgresBulkWriter()
    raise ValueError(f"no bulk writer for database dialect {dialect!r}")
