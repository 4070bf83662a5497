"""The outbox: an append-only SQLite store-and-forward buffer with one monotonic seq per agent.

What it promises:

- Every record (reading, aggregate, event, gap, command result) gets the next seq, unique for the
  agent's lifetime, across restarts and even across a corrupt file being replaced (see
  :mod:`.seqmark`).
- Readings are buffered and committed in batches with ``synchronous=NORMAL`` (a committed reading
  survives a killed process); ``add_event``, ``add_gap`` and ``add_command_result`` return only
  after a ``synchronous=FULL`` commit (it survives a power cut), which commits the buffered
  readings with it.
- A record leaves only when acknowledged (``ack``); ``take`` marks records in flight until they are
  acked or released, so a batch is never taken twice at once.
- The disk quota is kept by thinning, then dropping, old readings, each step reported as a Gap
  record (:mod:`.quota`). Events are never dropped.
- A corrupt file is moved aside at open, and a ``system.outbox_reset`` event says where it went.

Lanes for :meth:`Outbox.take`: ``events`` (events, gaps, command results), ``live`` (readings
received within ``live_window_s``), ``backlog`` (aggregates, then older readings, oldest first).

Local disk calls have no timeout: a SQLite call cannot be cancelled in its worker thread, and a
transaction abandoned half-way would wedge the store. Instead each transaction runs to its end
even when its caller is cancelled (``_atomically``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Self, TypeVar

import aiosqlite
import structlog

from edge_agent.records import EventRecord, ReadingRecord
from protocols.sync import (
    AlarmEvent,
    Gap,
    Lane,
    Reading,
    ReadingAggregate,
)

from . import codec, lanes, quota, state
from . import quarantine as quarantine_table
from .errors import OutboxClosedError, OutboxStorageError
from .integrity import CorruptOutboxError, MovedFile, connect_checked, move_aside, reset_event
from .pending import PendingBatch, Record
from .schema import (
    COUNTER_KEYS,
    KIND_COMMAND_RESULT,
    KIND_EVENT,
    KIND_GAP,
    META_SEQ_RESERVED,
    QUALITY_CODE,
)
from .seqmark import SeqAllocator, read_mark, side_file_for
from .stats import OutboxStats

__all__ = ["Outbox"]

T = TypeVar("T")
Row = tuple[Any, ...]
Statement = tuple[str, tuple[Any, ...]]


_ROW_BYTES: Final = 40  # a reading row on disk, with B-tree overhead (measured ~32)
_HIGH_WATER: Final = 0.90  # thin when the store passes this share of the quota...
_LOW_WATER: Final = 0.70  # ...down to this share, so thinning runs rarely and in big steps
_MIN_QUOTA_BYTES: Final = 256 * 1024

_log = structlog.get_logger("edge_agent.outbox")


class Outbox:
    """The agent's durable outbox. Build it with ``await Outbox.open(path)``; ``close()`` flushes."""

    def __init__(
        self,
        *,
        path: Path,
        db: aiosqlite.Connection,
        allocator: SeqAllocator,
        quota_bytes: int,
        live_window_s: float,
        flush_interval_s: float,
        commit_rows: int,
        clock: Callable[[], float],
    ) -> None:
        self._path = path
        self._db = db
        self._seqs = allocator
        self._quota_bytes = quota_bytes
        self._high_bytes = int(quota_bytes * _HIGH_WATER)
        self._low_bytes = int(quota_bytes * _LOW_WATER)
        self._live_window_s = live_window_s
        self._flush_interval_s = flush_interval_s
        self._commit_rows = commit_rows
        self._clock = clock
        self._log = _log.bind(outbox=str(path))
        self._lock = asyncio.Lock()
        # Readings accepted and not yet committed (rows for the readings table).
        self._buffer: list[Row] = []
        self._buffer_max_received = -math.inf
        self._new_streams: list[Row] = []
        self._stream_ids: dict[codec.Stream, int] = {}
        self._streams: dict[int, codec.Stream] = {}
        self._by_point: dict[str, tuple[str, str, int]] = {}
        self._live_marks = lanes.LiveMarks()
        self._counts = dict.fromkeys(
            ("readings", "aggregates", *state.EVENT_LANE_KINDS.values()), 0
        )
        self._counters = dict.fromkeys(COUNTER_KEYS, 0)
        self._in_flight = 0
        self._oldest_unsent_ts: float | None = None
        self._bytes_used = 0
        self._over_quota = False
        self._commits = 0
        self._last_commit_ts: float | None = None
        self._storage_errors = 0
        self._storage_failing = False
        self._reset_from: tuple[str, ...] = ()
        self._committed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    # ----------------------------------------------------------------------------- lifecycle

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        quota_bytes: int = 1 << 30,
        live_window_s: float = 60.0,
        flush_interval_s: float = 0.2,
        clock: Callable[[], float] = time.time,
        commit_rows: int = 10_000,
    ) -> Outbox:
        """Open (or create) the outbox at ``path``; a corrupt file is moved aside, never lost.

        ``commit_rows`` is the reading batch size; with a small quota it is lowered so that one
        commit stays within 5 % of the quota.
        """
        if quota_bytes < _MIN_QUOTA_BYTES:
            raise ValueError(f"quota_bytes={quota_bytes} is too small: at least {_MIN_QUOTA_BYTES}")
        if not live_window_s > 0 or not flush_interval_s > 0 or commit_rows < 1:
            raise ValueError(
                f"live_window_s={live_window_s}, flush_interval_s={flush_interval_s} and"
                f" commit_rows={commit_rows} must all be positive"
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        side_file = side_file_for(path)
        side_mark = read_mark(side_file)
        wal_pages = max(16, min(1000, quota_bytes // 4096 // 32))
        options: dict[str, Any] = {
            "wal_autocheckpoint_pages": wal_pages,
            "journal_size_limit_bytes": wal_pages * 4096,
            "busy_timeout_s": 2.0,
        }
        moved: MovedFile | None = None
        try:
            db = await connect_checked(path, **options)
        except CorruptOutboxError as exc:
            moved = move_aside(path, str(exc), now=clock())
            _log.error(
                "outbox.corrupt_file_moved",
                outbox=str(path),
                reason=str(exc),
                moved_to=[str(p) for p in moved.paths],
            )
            db = await connect_checked(path, **options)
        try:
            outbox = cls(
                path=path,
                db=db,
                allocator=SeqAllocator(side_file, last_used=0),
                quota_bytes=quota_bytes,
                live_window_s=live_window_s,
                flush_interval_s=flush_interval_s,
                commit_rows=max(100, min(commit_rows, quota_bytes // (20 * _ROW_BYTES))),
                clock=clock,
            )
            high_water = await outbox._load()
            floor = max(side_mark or 0, high_water)
            if moved is not None and side_mark is None:
                # Both copies of the high-water mark are gone: start above any seq an agent can
                # have used (a microsecond clock outruns 100,000 records/s tenfold).
                floor = max(floor, int(clock() * 1_000_000))
            outbox._seqs = SeqAllocator(side_file, last_used=floor)
            if moved is not None:
                await outbox._report_reset(moved, floor)
            await outbox._finish_interrupted_commands()
        except BaseException:
            await db.close()
            raise
        outbox._flusher = asyncio.create_task(outbox._flush_periodically(), name="outbox.flush")
        return outbox

    async def close(self) -> None:
        """Commit everything buffered, record the exact seq high-water mark, close the file."""
        if self._closed:
            return
        self._stopping.set()
        try:
            if self._flusher is not None:
                await self._flusher
            await self._commit()
            self._seqs.shrink_to_used()
            await self._commit()
        finally:
            self._closed = True
            await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ----------------------------------------------------------------------------- writing

    async def add_readings(self, records: Sequence[ReadingRecord]) -> None:
        """Accept readings: each gets a seq; they are committed within ``flush_interval_s``.

        When the buffer is full this first waits for a commit (backpressure). If that commit
        fails, ``OutboxStorageError`` is raised and *these* records were not accepted.
        """
        self._ensure_open()
        while len(self._buffer) >= self._commit_rows:
            await self._commit()
        if not records:
            return
        seq = self._seqs.allocate(len(records))
        rows = self._buffer
        by_point = self._by_point.get
        quality_code = QUALITY_CODE
        newest = self._buffer_max_received
        for r in records:
            known = by_point(r.point)
            if known is not None and known[0] == r.quantity and known[1] == r.unit:
                stream = known[2]
            else:
                stream = self._stream_id(r.point, r.quantity, r.unit)
            received = r.received_ts
            rows.append(
                (seq, stream, r.value, quality_code[r.quality], r.reason, r.source_ts, received)
            )
            if received > newest:
                newest = received
            seq += 1
        self._buffer_max_received = newest

    async def add_event(self, event: EventRecord) -> int:
        """Store an event durably (``synchronous=FULL``) before returning its seq.

        Raises ``InvalidRecordError`` (naming the field) for an event the wire schema refuses.
        """
        return await self._add_event_lane(KIND_EVENT, event.ts, codec.event_body(event))

    async def add_gap(
        self,
        *,
        point: str | None,
        stream: str | None,
        from_ts: float,
        to_ts: float,
        count: int,
        reason: str,
    ) -> int:
        """Record, durably, that data of ``point`` (or ``stream``) is missing or thinned."""
        body = codec.gap_body(
            point=point, stream=stream, from_ts=from_ts, to_ts=to_ts, count=count, reason=reason
        )
        return await self._add_event_lane(KIND_GAP, self._clock(), body, {"gaps_total": 1})

    async def add_command_result(self, command_id: str, ok: bool, message: str) -> int:
        """Store, durably, the outcome of a command from central (and mark the command done)."""
        now = self._clock()
        body = codec.command_result_body(command_id, ok, message, now)
        self._ensure_open()
        async with self._lock:
            seq = self._seqs.allocate(1)
            record = (
                "INSERT INTO commands(id, received_ts, result_seq) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET result_seq = excluded.result_seq",
                (command_id, now, seq),
            )
            await self._commit_locked([(seq, KIND_COMMAND_RESULT, now, body)], extra=[record])
        return seq

    async def claim_command(self, command_id: str) -> bool:
        """Durably note that a command is being handled; ``False`` if it was seen before.

        A command is run at most once: if the agent stops while running it, the next open
        stores a failed result saying the outcome is unknown.
        """
        self._ensure_open()
        async with self._lock:

            async def claim() -> bool:
                statement = "INSERT OR IGNORE INTO commands(id, received_ts) VALUES (?, ?)"
                await self._db.execute("PRAGMA synchronous=FULL")
                try:
                    cursor = await self._db.execute(statement, (command_id, self._clock()))
                finally:
                    await self._db.execute("PRAGMA synchronous=NORMAL")
                return cursor.rowcount == 1

            return await self._atomically(claim)

    async def flush(self) -> None:
        """Commit everything buffered now."""
        self._ensure_open()
        await self._commit()

    # ----------------------------------------------------------------------------- sending

    async def take(self, lane: Lane, max_records: int) -> PendingBatch | None:
        """Up to ``max_records`` of ``lane`` not acked and not in flight, oldest first; ``None`` if none.

        A record that no longer fits the wire schema is moved to quarantine here (and reported by a
        ``system.sync_quarantine`` event) instead of blocking the lane.
        """
        self._ensure_open()
        if max_records < 1:
            raise ValueError(f"max_records={max_records} must be at least 1")
        async with self._lock:
            return await self._atomically(lambda: self._take(lane, max_records))

    async def ack(self, ranges: Sequence[tuple[int, int]]) -> int:
        """Delete the in-flight records central acknowledged (inclusive ranges); returns how many."""
        self._ensure_open()
        clean = [(int(lo), int(hi)) for lo, hi in ranges if lo <= hi]
        if not clean:
            return 0
        async with self._lock:
            return await self._atomically(lambda: self._ack(clean))

    async def release(self, pending: PendingBatch) -> None:
        """A send failed: the batch's records (those not acked) become takeable again."""
        self._ensure_open()
        ranges = pending.ranges()
        if not ranges:
            return
        async with self._lock:

            async def release() -> None:
                cursor = await self._db.executemany(
                    "DELETE FROM temp.inflight WHERE seq BETWEEN ? AND ?", ranges
                )
                self._in_flight -= max(cursor.rowcount, 0)

            await self._atomically(release)

    async def quarantine(self, pending: PendingBatch, reason: str) -> int:
        """Move records central refused to the quarantine table (kept for recovery, counted).

        A ``system.sync_quarantine`` event says what and why, unless every record moved is such
        an event itself (so a refused notice cannot breed notices). Returns how many moved.
        """
        self._ensure_open()
        items = [(r.seq, _kind_of(r), r.model_dump_json()) for r in pending.records()]
        notify = any(not quarantine_table.is_notice(r) for r in pending.records())
        async with self._lock:
            return await self._atomically(lambda: self._quarantine(items, reason, notify=notify))

    # ----------------------------------------------------------------------------- observing

    def statistics(self) -> OutboxStats:
        return OutboxStats(
            backlog_records=dict(self._counts),
            buffered_readings=len(self._buffer),
            in_flight=self._in_flight,
            oldest_unsent_ts=self._oldest_unsent_ts,
            bytes_used=self._bytes_used,
            quota_bytes=self._quota_bytes,
            over_quota=self._over_quota,
            gaps_total=self._counters["gaps_total"],
            degraded_readings=self._counters["degraded_readings"],
            dropped_readings=self._counters["dropped_readings"],
            quarantined=self._counters["quarantined"],
            last_seq=self._seqs.last_used,
            commits=self._commits,
            last_commit_ts=self._last_commit_ts,
            storage_errors=self._storage_errors,
            reset_from=self._reset_from,
        )

    @property
    def path(self) -> Path:
        return self._path

    @property
    def commit_count(self) -> int:
        """Commits that stored new records; pass it to ``wait_for_commit``."""
        return self._commits

    async def wait_for_commit(self, after: int, timeout_s: float) -> bool:
        """Wait until ``commit_count`` exceeds ``after``; ``False`` after ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self._commits <= after and not self._closed:
                    self._committed.clear()
                    await self._committed.wait()
        return self._commits > after

    # ----------------------------------------------------------------------------- internals

    def _ensure_open(self) -> None:
        if self._closed or self._stopping.is_set():
            raise OutboxClosedError(f"outbox {self._path} is closed")

    def _stream_id(self, point: str, quantity: str, unit: str) -> int:
        key = (point, quantity, unit)
        stream = self._stream_ids.get(key)
        if stream is None:
            stream = len(self._streams) + 1
            while stream in self._streams:
                stream += 1
            self._stream_ids[key] = stream
            self._streams[stream] = key
            self._new_streams.append((stream, point, quantity, unit))
        self._by_point[point] = (quantity, unit, stream)
        return stream

    async def _atomically(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run one transaction to its end even if the caller is cancelled (caller holds the lock)."""
        task = asyncio.ensure_future(work())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: the caller is gone, the error is logged below
            raise
        except sqlite3.Error as exc:
            self._storage_errors += 1
            raise OutboxStorageError(f"outbox {self._path}: {exc}") from exc

    async def _add_event_lane(
        self, kind: str, ts: float, body: str, counters: Mapping[str, int] | None = None
    ) -> int:
        self._ensure_open()
        async with self._lock:
            seq = self._seqs.allocate(1)
            await self._commit_locked([(seq, kind, ts, body)], counters=counters)
        return seq

    async def _commit(self) -> None:
        async with self._lock:
            await self._commit_locked([])

    async def _commit_locked(
        self,
        event_rows: Sequence[quota.EventRow],
        *,
        extra: Sequence[Statement] = (),
        counters: Mapping[str, int] | None = None,
    ) -> None:
        """Commit the reading buffer with ``event_rows`` (durably if there are any)."""
        await self._atomically(lambda: self._commit_work(event_rows, extra, counters or {}))

    async def _commit_work(
        self,
        event_rows: Sequence[quota.EventRow],
        extra: Sequence[Statement],
        counters: Mapping[str, int],
    ) -> None:
        rows, self._buffer = self._buffer, []
        streams, self._new_streams = self._new_streams, []
        newest, self._buffer_max_received = self._buffer_max_received, -math.inf
        if not rows and not event_rows and not extra and not self._seqs.meta_dirty:
            return
        try:
            incoming = len(rows) * _ROW_BYTES + sum(len(e[3]) for e in event_rows)
            if self._bytes_used + incoming > self._high_bytes:
                await self._make_room(incoming)
            await self._write(rows, streams, event_rows, extra, counters)
        except BaseException:
            # Not committed: the readings stay buffered (they were accepted); events are the
            # caller's to retry (it gets the error).
            self._buffer[:0] = rows
            self._new_streams[:0] = streams
            self._buffer_max_received = max(newest, self._buffer_max_received)
            raise
        now = self._clock()
        if rows:
            self._counts["readings"] += len(rows)
            self._live_marks.note(rows[0][0], newest)
            if self._oldest_unsent_ts is None:
                self._oldest_unsent_ts = min(r[6] for r in rows)
        for seq_, kind, ts, _body in event_rows:
            del seq_
            self._counts[state.EVENT_LANE_KINDS[kind]] += 1
            if self._oldest_unsent_ts is None or ts < self._oldest_unsent_ts:
                self._oldest_unsent_ts = ts
        if rows or event_rows:
            self._commits += 1
            self._last_commit_ts = now
            self._committed.set()
        self._bytes_used = await self._measure()
        if self._bytes_used > self._high_bytes:
            await self._make_room(0)
        else:
            self._over_quota = False

    async def _write(
        self,
        rows: list[Row],
        streams: list[Row],
        event_rows: Sequence[quota.EventRow],
        extra: Sequence[Statement],
        counters: Mapping[str, int],
    ) -> None:
        db = self._db
        durable = bool(event_rows)
        reserved = self._seqs.reserved_through
        new_counters = {k: self._counters[k] + counters.get(k, 0) for k in COUNTER_KEYS}
        if durable:
            await db.execute("PRAGMA synchronous=FULL")
        try:
            await db.execute("BEGIN IMMEDIATE")
            try:
                if streams:
                    await db.executemany(
                        "INSERT OR IGNORE INTO streams(id, point, quantity, unit) VALUES (?, ?, ?, ?)",
                        streams,
                    )
                if rows:
                    await db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                if event_rows:
                    await db.executemany(
                        "INSERT INTO events(seq, kind, ts, body) VALUES (?, ?, ?, ?)", event_rows
                    )
                for sql, params in extra:
                    await db.execute(sql, params)
                meta: dict[str, object] = dict(new_counters) if counters else {}
                if self._seqs.meta_dirty:
                    meta[META_SEQ_RESERVED] = reserved
                if meta:
                    await state.put_meta(db, meta)
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
        finally:
            if durable:
                await db.execute("PRAGMA synchronous=NORMAL")
        if self._seqs.reserved_through == reserved:
            self._seqs.meta_dirty = False
        self._counters = new_counters

    async def _measure(self) -> int:
        return await state.bytes_used(self._db, self._path)

    async def _make_room(self, incoming: int) -> None:
        """Thin old readings until the store plus ``incoming`` bytes is under the low-water mark."""
        used = await self._measure()
        target = max(0, self._low_bytes - incoming)
        while used > target:
            need = used - target
            step = await self._thin_once(need)
            if step is None:
                if not self._over_quota:
                    self._log.error(
                        "outbox.over_quota",
                        bytes_used=used,
                        quota_bytes=self._quota_bytes,
                        detail="only events and records in flight are left; events are kept",
                    )
                self._over_quota = True
                break
            used = await self._measure()
        else:
            self._over_quota = False
        self._bytes_used = used

    async def _thin_once(self, need_bytes: int) -> quota.ThinningStep | None:
        done = await quota.thin_once(
            self._db,
            need_bytes=need_bytes,
            streams=self._streams,
            seqs=self._seqs,
            counters=self._counters,
            now=self._clock(),
        )
        if done is None:
            return None
        step, self._counters = done
        self._counts["readings"] -= step.readings_aggregated
        self._counts["aggregates"] += step.aggregates_created - step.aggregates_dropped
        self._counts["gaps"] += len(step.gap_rows)
        self._commits += 1
        self._committed.set()
        await self._refresh_oldest()
        self._log.warning(
            "outbox.quota.thinned",
            readings_aggregated=step.readings_aggregated,
            aggregates_created=step.aggregates_created,
            aggregates_dropped=step.aggregates_dropped,
            readings_dropped=step.readings_dropped,
            quota_bytes=self._quota_bytes,
        )
        return step

    async def _take(self, lane: Lane, max_records: int) -> PendingBatch | None:
        while True:
            cutoff = self._clock() - self._live_window_s
            records, bad = await lanes.select(
                self._db,
                lane,
                max_records,
                streams=self._streams,
                floor=self._live_marks.floor(cutoff, self._seqs.next_seq),
                cutoff=cutoff,
            )
            if bad:
                reason = "does not fit the wire schema: " + "; ".join(b[3] for b in bad[:3])
                await self._quarantine([(s, k, body) for s, k, body, _ in bad], reason, notify=True)
            if records:
                await self._db.executemany(
                    "INSERT INTO temp.inflight(seq) VALUES (?)", [(r.seq,) for r in records]
                )
                self._in_flight += len(records)
                return PendingBatch.from_records(lane, records)
            if not bad:
                return None

    async def _ack(self, ranges: list[tuple[int, int]]) -> int:
        db = self._db
        await db.execute("BEGIN IMMEDIATE")
        try:
            readings = await db.executemany(lanes.ACK_READINGS, ranges)
            aggregates = await db.executemany(lanes.ACK_AGGREGATES, ranges)
            events = await db.executemany(lanes.ACK_EVENTS, ranges)
            released = await db.executemany(
                "DELETE FROM temp.inflight WHERE seq BETWEEN ? AND ?", ranges
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        self._in_flight -= max(released.rowcount, 0)
        self._counts["readings"] -= max(readings.rowcount, 0)
        self._counts["aggregates"] -= max(aggregates.rowcount, 0)
        if events.rowcount > 0:
            await self._count_event_lane()
        await self._refresh_oldest()
        self._bytes_used = await self._measure()
        self._over_quota = self._over_quota and self._bytes_used > self._high_bytes
        return max(readings.rowcount, 0) + max(aggregates.rowcount, 0) + max(events.rowcount, 0)

    async def _quarantine(
        self, items: list[quarantine_table.Item], reason: str, *, notify: bool
    ) -> int:
        if not items:
            return 0
        now = self._clock()
        row = None
        if notify:
            event = quarantine_table.notice(items, reason, outbox=self._path, now=now)
            row = quarantine_table.notice_row(event, self._seqs.allocate(1))
        counters = dict(self._counters)
        counters["quarantined"] += len(items)
        moved = await quarantine_table.move(
            self._db,
            items,
            reason,
            notice_row=row,
            meta={**counters, META_SEQ_RESERVED: self._seqs.reserved_through},
            now=now,
        )
        self._counters = counters
        self._in_flight -= moved.released
        self._counts["readings"] -= moved.readings
        self._counts["aggregates"] -= moved.aggregates
        await self._count_event_lane()
        await self._refresh_oldest()
        if row is not None:
            self._commits += 1
            self._committed.set()
        self._log.error("outbox.quarantined", count=len(items), reason=reason)
        return len(items)

    async def _count_event_lane(self) -> None:
        self._counts.update(await state.count_event_lane(self._db))

    async def _refresh_oldest(self) -> None:
        oldest = await state.oldest_unsent(self._db)
        if self._buffer and oldest is None:
            oldest = min(r[6] for r in self._buffer)
        self._oldest_unsent_ts = oldest

    async def _load(self) -> int:
        """Take over what a reopened store knows; returns its seq high-water mark."""
        loaded = await state.load(
            self._db, self._path, live_cutoff=self._clock() - self._live_window_s
        )
        self._counters = loaded.counters
        for stream, key in loaded.streams.items():
            self._streams[stream] = key
            self._stream_ids[key] = stream
            self._by_point[key[0]] = (key[1], key[2], stream)
        self._counts["readings"] = loaded.readings
        self._counts["aggregates"] = loaded.aggregates
        if loaded.live_mark is not None:
            self._live_marks.note(*loaded.live_mark)
        await self._count_event_lane()
        await self._refresh_oldest()
        self._bytes_used = await self._measure()
        return loaded.high_water

    async def _report_reset(self, moved: MovedFile, floor: int) -> None:
        self._reset_from = tuple(str(p) for p in moved.paths)
        await self.add_event(reset_event(moved, floor=floor, now=self._clock()))

    async def _finish_interrupted_commands(self) -> None:
        async with self._db.execute("SELECT id FROM commands WHERE result_seq IS NULL") as cursor:
            interrupted = [str(row[0]) for row in await cursor.fetchall()]
        for command_id in interrupted:
            await self.add_command_result(
                command_id,
                False,
                "interrupted: the agent stopped while running this command; its outcome is unknown",
            )

    async def _flush_periodically(self) -> None:
        """Commit the buffer every ``flush_interval_s`` until ``close()``; storage errors are kept
        as state (logged once when failing, once when recovered), never raised from here."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_interval_s):
                    await self._stopping.wait()
            if not self._buffer or self._stopping.is_set():
                continue
            try:
                await self._commit()
            except OutboxStorageError as exc:
                if not self._storage_failing:
                    self._log.error("outbox.storage.failing", error=str(exc))
                self._storage_failing = True
            else:
                if self._storage_failing:
                    self._log.warning("outbox.storage.recovered")
                self._storage_failing = False


def _kind_of(record: Record) -> str:
    if isinstance(record, Reading):
        return "reading"
    if isinstance(record, ReadingAggregate):
        return "aggregate"
    if isinstance(record, AlarmEvent):
        return KIND_EVENT
    return KIND_GAP if isinstance(record, Gap) else KIND_COMMAND_RESULT
