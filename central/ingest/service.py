"""Ingest: from a request body and an authenticated agent to a :class:`protocols.sync.BatchAck`.

One batch is one database transaction: the ledger, every record, the latest values, the
heartbeat and the command deliveries commit together or not at all, so a refused or failed batch
leaves nothing partly stored. A transaction that fails for a retriable reason (a lock timeout,
a deadlock, a dropped connection) is tried again a few times before the agent gets a 503; the
agent would resend anyway, and the ledger makes that harmless.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from central import crud
from central.core.config import Settings
from central.core.db import DRIVER_ERRORS, IMMEDIATE, dialect_of, translate
from central.core.epoch import from_us, now_us, to_us
from central.core.metrics import Metrics
from central.core.security import hash_token
from central.crud import AgentContext
from central.errors import RequestRefused, StoreError
from central.models import RecordKind
from central.store import PointRegistry, deliver_commands, insert_records, upsert_health, writer_for
from central.store.bulk import LatestRows
from central.store.rollup import aggregate_hourly_rows, hourly_rows
from protocols.sync import BatchAck, Command, seq_ranges

from .body import inflate, parse_batch, refuse_nul_chars
from .prepare import Limits, PreparedBatch, ReadingColumns, prepare_batch

log = structlog.get_logger("central.ingest")

KIND_LABEL = {kind.value: kind.name.lower() for kind in RecordKind}


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    fresh: int
    duplicates: int
    commands: list[Command]
    fresh_by_kind: dict[int, int]


def newest_per_point(cols: ReadingColumns, point_ids: list[int]) -> LatestRows:
    """Each point's newest reading of the batch by (source_ts, seq)."""
    src, seq = cols.source_us, cols.seq
    if src == sorted(src) and seq == sorted(seq):
        # Agents send in time order: the last occurrence of each point is its newest. Found
        # at C speed (a dict keeps the last value per key); the sorted() checks are linear
        # on sorted input.
        best = dict(zip(point_ids, range(len(point_ids)), strict=True))
    else:
        best = {}
        for i, pid in enumerate(point_ids):
            j = best.get(pid)
            if j is None or (src[i], seq[i]) > (src[j], seq[j]):
                best[pid] = i
    return [
        (
            pid,
            src[i],
            cols.received_us[i],
            cols.value[i],
            cols.quality[i],
            cols.reason[i],
            seq[i],
        )
        for pid, i in best.items()
    ]


@dataclass(frozen=True, slots=True)
class IngestStatistics:
    """A snapshot of one ingest service: work in hand and what it remembers."""

    in_progress: int
    """Batches being decoded or stored now (at most ``ingest_concurrency``)."""
    waiting: int
    """Batches queued for a turn."""
    cached_agents: int
    known_points: int


class AgentCache:
    """Recently authenticated agents by token hash, so a busy agent costs no lookup per batch.

    An entry lives ``ttl_s``: a deactivated agent is refused at the latest that long after.
    Bounded: past ``max_entries`` it starts afresh (agents re-authenticate, nothing is lost).
    """

    def __init__(self, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, AgentContext]] = {}

    def get(self, key: str) -> AgentContext | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: str, agent: AgentContext) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries = {}
        self._entries[key] = (time.monotonic() + self.ttl_s, agent)


class IngestService:
    """Decodes, checks and stores batches for one app; safe to call from many threads."""

    def __init__(self, engine: Engine, settings: Settings, metrics: Metrics) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.points = PointRegistry()
        self.writer = writer_for(dialect_of(engine))
        self._write_engine = engine.execution_options(**{IMMEDIATE: True})
        # SQLite has one writer at a time. Queueing our own threads on a lock hands the turn
        # over at once; queueing them on SQLite's busy handler makes each sleep and poll.
        self._write_turn: AbstractContextManager[Any] = (
            threading.Lock() if self.writer.dialect == "sqlite" else nullcontext()
        )
        self._agents = AgentCache(ttl_s=settings.agent_auth_cache_s)
        # Decoding is CPU work under the GIL: more threads than this only add contention.
        self.limiter = anyio.CapacityLimiter(settings.ingest_concurrency)

    def limits(self, received_us: int) -> Limits:
        s = self.settings
        return Limits(
            min_us=to_us(s.min_valid_ts),
            max_us=received_us + round(s.max_future_skew_s * 1_000_000),
            max_records=s.max_records_per_batch,
            max_future_skew_s=s.max_future_skew_s,
        )

    def ingest(self, body: bytes, *, content_encoding: str | None, agent: AgentContext) -> BatchAck:
        """Store one batch; raises a ``RequestRefused`` (4xx) or a ``StoreError`` (5xx)."""
        start = time.perf_counter()
        received = now_us()
        try:
            raw = inflate(
                body,
                content_encoding=content_encoding,
                max_inflated_bytes=self.settings.max_inflated_bytes,
            )
            batch = parse_batch(raw)
            refuse_nul_chars(raw, batch)
            prepared = prepare_batch(
                batch, agent=agent, received_us=received, limits=self.limits(received)
            )
        except RequestRefused as exc:
            self.refused(exc.error, agent)
            raise
        outcome = self._store_with_retries(prepared)
        ack = BatchAck(
            batch_id=batch.batch_id,
            accepted=seq_ranges(prepared.seqs),
            duplicates=outcome.duplicates,
            server_time=from_us(now_us()),
            commands=outcome.commands,
        )
        m = self.metrics
        m.batches.labels(prepared.lane).inc()
        if outcome.duplicates:
            m.duplicates.inc(outcome.duplicates)
        for kind, n in outcome.fresh_by_kind.items():
            m.records.labels(KIND_LABEL[kind]).inc(n)
        m.ingest_seconds.observe(time.perf_counter() - start)
        if outcome.duplicates:
            log.info(
                "batch held stored records",
                agent=agent.agent_key,
                batch=batch.batch_id,
                duplicates=outcome.duplicates,
                records=prepared.record_count,
            )
        return ack

    def statistics(self) -> IngestStatistics:
        limiter = self.limiter.statistics()
        return IngestStatistics(
            in_progress=limiter.borrowed_tokens,
            waiting=limiter.tasks_waiting,
            cached_agents=len(self._agents),
            known_points=len(self.points),
        )

    def agent_for_token(self, token: str) -> AgentContext | None:
        """The agent holding ``token`` (cached ``agent_auth_cache_s``), or None."""
        key = hash_token(token)
        agent = self._agents.get(key)
        if agent is None:
            with Session(self.engine) as session:
                agent = crud.agent_for_token(session, token=token)
            if agent is not None:
                self._agents.put(key, agent)
        return agent

    def refused(self, reason: str, agent: AgentContext | None) -> None:
        self.metrics.refusals.labels(reason).inc()
        log.warning("batch refused", reason=reason, agent=agent.agent_key if agent else None)

    def _store_with_retries(self, p: PreparedBatch) -> StoreOutcome:
        attempts = self.settings.ingest_retries
        for attempt in range(1, attempts + 1):
            try:
                with self._write_turn:
                    return self._store(p)
            except DRIVER_ERRORS as exc:
                err = translate(exc, f"storing batch {p.batch_key!r}")
                if not err.retriable or attempt == attempts:
                    self.refused("store_failed", p.agent)
                    log.error("batch not stored", agent=p.agent.agent_key, error=str(err))
                    raise err from exc
                log.warning(
                    "batch store failed, trying again",
                    agent=p.agent.agent_key,
                    attempt=attempt,
                    error=str(err),
                )
                time.sleep(0.05 * attempt)
        raise StoreError("unreachable", retriable=True)  # pragma: no cover

    def _store(self, p: PreparedBatch) -> StoreOutcome:
        agent = p.agent
        writer = self.writer
        with self._write_engine.connect() as conn, conn.begin():
            now = now_us()
            learned: dict[str, int] = {}
            if p.points:
                learned.update(
                    self.points.register(conn, plant_id=agent.plant_id, infos=p.points, now_us=now)
                )
            point_ids, found = self.points.resolve(
                conn,
                plant_id=agent.plant_id,
                keys=p.point_keys(),
                hints=p.unit_hints,
                now_us=now,
            )
            learned.update(found)
            cur: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            fresh: set[int] | None = None
            fresh_count = 0
            if p.seqs:
                batch_id = writer.insert_batch_row(cur, p)
                fresh = writer.claim_seqs(cur, agent.agent_id, batch_id, p.seqs, p.kinds)
                fresh_count = len(p.seqs) if fresh is None else len(fresh)
                readings = p.readings
                if fresh is not None:
                    readings = readings.subset(
                        [i for i, s in enumerate(readings.seq) if s in fresh]
                    )
                if len(readings):
                    ids = list(map(point_ids.__getitem__, readings.point))
                    writer.insert_readings(cur, agent.agent_id, readings, ids)
                    writer.upsert_latest(cur, agent.agent_id, newest_per_point(readings, ids))
                    writer.upsert_hourly(cur, hourly_rows(readings, ids))
                insert_records(
                    conn,
                    agent_id=agent.agent_id,
                    plant_id=agent.plant_id,
                    aggregates=p.aggregates,
                    events=p.events,
                    gaps=p.gaps,
                    command_results=p.command_results,
                    fresh=fresh,
                    point_ids=point_ids,
                )
                if p.aggregates:
                    thinned = aggregate_hourly_rows(p.aggregates, fresh, point_ids)
                    if thinned:
                        writer.upsert_hourly(cur, thinned)
                writer.finish_batch_row(cur, batch_id, fresh_count)
            upsert_health(conn, agent_id=agent.agent_id, health=p.health, received_us=p.received_us)
            commands = deliver_commands(
                conn,
                agent_id=agent.agent_id,
                limit=self.settings.max_commands_per_ack,
                now_us=now,
            )
            cur.close()
        self.points.remember(learned)
        if fresh is None:
            by_kind = Counter(p.kinds)
        else:
            by_kind = Counter(k for s, k in zip(p.seqs, p.kinds, strict=True) if s in fresh)
        return StoreOutcome(
            fresh=fresh_count,
            duplicates=len(p.seqs) - fresh_count,
            commands=commands,
            fresh_by_kind=dict(by_kind),
        )
