"""The sync client: drains the outbox to central, lane by lane, and carries commands back.

What it promises:

- A record leaves the outbox only when central's ack names its seq; a failed send releases the
  batch, so nothing is lost, and central's idempotent insert means a resend never duplicates.
- Lanes: a pending event, gap or command result always goes first. Then live readings, then the
  backlog, with one fairness rule: after a live batch that was *not* full (live has caught up),
  the backlog gets the next turn even if a few live readings arrived meanwhile. So live data
  waits at most one backlog round trip, and the backlog drains at full speed whenever live data
  fits in less than a batch per round trip. Only a link too slow for live data alone starves the
  backlog (the quota then thins it, with Gap records).
- Failures back off exponentially with jitter (tenacity): connection errors, timeouts, 5xx, 429
  (honouring Retry-After), and a failing outbox disk (``OutboxStorageError``). 401/403 and a central that refuses the agent itself are logged once as
  a configuration error and retried every ``slow_retry_s``.
- 413: the batch is halved (and the batch size with it; it grows back after 100 good batches).
  422: empty probes tell a batch-level refusal (configuration, retried slowly) from metadata
  central will not take (then dropped from later batches, logged) from bad records; bad records
  are isolated by bisection and exactly those are quarantined in the outbox.
- While a batch is on its way the next one is taken from the outbox, so the outbox's work
  overlaps central's; it never jumps the queue: an event or live data that arrives meanwhile
  still goes before it, and a failed send gives it back.
- Commands in an ack run once each (claimed durably by id first); their outcome is stored in the
  outbox as a CommandResult and synced back.
- The first batch (and the first after ``set_points``) carries the point metadata; every batch
  carries health; an empty heartbeat batch goes when nothing was sent for ``heartbeat_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal, Self

import httpx
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_exponential, wait_random

from edge_agent.outbox import Outbox, OutboxError, OutboxStorageError, PendingBatch
from protocols.sync import (
    AgentHealth,
    Batch,
    BatchAck,
    Command,
    Lane,
    PointInfo,
    utc_from_posix,
)

from .errors import CentralAuthError, CentralRefusedError, CentralUnavailableError, SyncError
from .ingest import Answer, IngestChannel, Verdict

__all__ = ["SyncClient", "SyncStats"]

SyncState = Literal["ok", "backoff", "refused"]

_GROW_BACK_AFTER: Final = 100  # good batches before a batch size halved by 413 doubles again
_MESSAGE_MAX: Final = 2000  # CommandResult.message

_log = structlog.get_logger("edge_agent.sync")


@dataclass(frozen=True, slots=True)
class SyncStats:
    """A snapshot of the sync client (it becomes metrics and part of the status page)."""

    state: SyncState
    last_success_ts: float | None
    batches_sent: int
    records_sent: int
    heartbeats_sent: int
    failures: int
    last_error: str | None
    clock_offset_s: float | None
    batch_size: int
    quarantined: int
    commands_run: int
    commands_duplicate: int


class SyncClient:
    """Sends the outbox to central. ``run()`` until cancelled, or ``sync_once()`` per round."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        central_url: str,
        token: str,
        agent_id: str,
        plant_id: str,
        on_command: Callable[[Command], Awaitable[tuple[bool, str]]],
        health: Callable[[], AgentHealth],
        points: Callable[[], list[PointInfo]],
        batch_size: int = 1000,
        heartbeat_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        connect_timeout_s: float = 5.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        slow_retry_s: float = 60.0,
        command_timeout_s: float = 30.0,
        user_agent: str = "hse-edge-agent",
    ) -> None:
        if batch_size < 1 or heartbeat_s <= 0 or timeout_s <= 0:
            raise ValueError(
                f"batch_size={batch_size}, heartbeat_s={heartbeat_s} and timeout_s={timeout_s}"
                " must be positive"
            )
        self._outbox = outbox
        self._agent_id = agent_id
        self._plant_id = plant_id
        self._on_command = on_command
        self._health = health
        self._points = points
        self._max_batch = batch_size
        self._batch_size = batch_size
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._slow_retry_s = slow_retry_s
        self._command_timeout_s = command_timeout_s
        self._backoff = wait_exponential(multiplier=backoff_initial_s, max=backoff_max_s) + (
            wait_random(0, backoff_initial_s)
        )
        self._backoff_max_s = backoff_max_s
        self._channel = IngestChannel(
            central_url=central_url,
            token=token,
            transport=transport,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            clock=clock,
            user_agent=user_agent,
        )
        self._log = _log.bind(agent_id=agent_id, central=self._channel.url)
        self._points_pending = True
        self._extras_refused: str | None = None
        self._points_failed = False
        self._last_sent_mono = -float("inf")
        self._last_lane: Lane | None = None
        self._last_batch_full = False
        self._good_batches = 0
        # statistics
        self._state: SyncState = "ok"
        self._last_success_ts: float | None = None
        self._batches_sent = 0
        self._records_sent = 0
        self._heartbeats_sent = 0
        self._failures = 0
        self._last_error: str | None = None
        self._clock_offset_s: float | None = None
        self._quarantined = 0
        self._commands_run = 0
        self._commands_duplicate = 0
        # The next batch, taken from the outbox while the current one was on its way.
        self._ahead: PendingBatch | None = None

    # ----------------------------------------------------------------------------- public

    def set_points(self) -> None:
        """The point list changed: send the metadata with the next batch."""
        self._points_pending = True
        self._extras_refused = None

    async def run(self) -> None:
        """Sync until cancelled: back off on failure, sleep when idle (woken by new records)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((SyncError, OutboxStorageError)),
            wait=self._wait_before_retry,
            sleep=asyncio.sleep,
            reraise=True,
        )
        try:
            while True:
                seen = self._outbox.commit_count
                sent: bool = await retrying(self.sync_once)
                if not sent:
                    idle_s = self._heartbeat_s - (time.monotonic() - self._last_sent_mono)
                    await self._outbox.wait_for_commit(seen, timeout_s=max(0.0, idle_s))
        finally:
            await self.aclose()

    async def sync_once(self) -> bool:
        """One round: send one batch (records from the first lane due, or a heartbeat).

        Returns whether anything was sent. Raises a :class:`SyncError` when central could not be
        reached or refused the agent (``OutboxStorageError`` when the outbox's disk failed); the
        batch's records are back in the outbox by then.
        """
        try:
            pending = await self._take()
        except OutboxStorageError as exc:
            self._failed(exc)
            raise
        heartbeat_due = time.monotonic() - self._last_sent_mono >= self._heartbeat_s
        if pending is None and not heartbeat_due and not self._points_pending:
            return False
        # While this batch is on its way (central's time), take the next one (the outbox's):
        # a drain then costs the slower of the two per batch, not their sum.
        ahead: asyncio.Task[PendingBatch | None] | None = None
        if pending is not None and self._ahead is None:
            ahead = asyncio.create_task(self._take_ahead(pending), name="sync.take_ahead")
        delivered = False
        try:
            if pending is None:
                await self._send_heartbeat()
            else:
                await self._send(pending, extras=True)
                self._last_lane = pending.lane
                self._last_batch_full = pending.record_count() >= self._batch_size
            delivered = True
        except (SyncError, OutboxStorageError) as exc:
            self._failed(exc)
            held, self._ahead = self._ahead, None
            if held is not None:
                await self._outbox.release(held)  # the next round decides afresh
            raise
        finally:
            if pending is not None:
                await self._outbox.release(pending)  # whatever was not acked
            if ahead is not None:
                await self._keep_ahead(ahead, keep=delivered)
        self._succeeded()
        return True

    def statistics(self) -> SyncStats:
        return SyncStats(
            state=self._state,
            last_success_ts=self._last_success_ts,
            batches_sent=self._batches_sent,
            records_sent=self._records_sent,
            heartbeats_sent=self._heartbeats_sent,
            failures=self._failures,
            last_error=self._last_error,
            clock_offset_s=self._clock_offset_s,
            batch_size=self._batch_size,
            quarantined=self._quarantined,
            commands_run=self._commands_run,
            commands_duplicate=self._commands_duplicate,
        )

    async def aclose(self) -> None:
        """Give back a batch taken ahead and close the HTTP connections (``run`` does this
        when it ends)."""
        ahead, self._ahead = self._ahead, None
        try:
            if ahead is not None:
                with contextlib.suppress(OutboxError):  # a closed outbox has nothing in flight
                    await self._outbox.release(ahead)
        finally:
            await self._channel.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------------------- rounds

    async def _take(self) -> PendingBatch | None:
        size = self._batch_size
        take = self._outbox.take
        pending = await take(Lane.EVENTS, size)
        if pending is not None:
            return pending  # an event goes first; a batch taken ahead waits its turn
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            # Taken by the same rule one round trip ago. Only live data that arrived since can
            # change the answer: the backlog's batch then waits for the live one.
            if ahead.lane is Lane.BACKLOG and not (
                self._last_lane is Lane.LIVE and not self._last_batch_full
            ):
                try:
                    live = await take(Lane.LIVE, size)
                except BaseException:
                    self._ahead = ahead
                    raise
                if live is not None:
                    self._ahead = ahead
                    return live
            return ahead
        if self._last_lane is Lane.LIVE and not self._last_batch_full:
            pending = await take(Lane.BACKLOG, size)  # live has caught up: the backlog's turn
            if pending is not None:
                return pending
        return await take(Lane.LIVE, size) or await take(Lane.BACKLOG, size)

    async def _take_ahead(self, current: PendingBatch) -> PendingBatch | None:
        """The batch ``_take`` will want after ``current`` (events are checked at that time)."""
        size = self._batch_size
        take = self._outbox.take
        if current.lane is Lane.LIVE and current.record_count() < size:
            pending = await take(Lane.BACKLOG, size)
            if pending is not None:
                return pending
        return await take(Lane.LIVE, size) or await take(Lane.BACKLOG, size)

    async def _keep_ahead(self, task: asyncio.Task[PendingBatch | None], *, keep: bool) -> None:
        """Wait for the batch taken ahead; keep it for the next round, or give it back when
        this round failed (the next round decides afresh)."""
        try:
            ahead = await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task})  # a take runs to its end; its records must be released
            if not task.cancelled() and task.exception() is None:
                taken = task.result()
                if taken is not None:
                    with contextlib.suppress(OutboxError):  # closing: nothing left in flight
                        await self._outbox.release(taken)
            raise
        except OutboxError:
            return  # the next round's take meets the same disk and reports it
        if ahead is None:
            return
        if keep:
            self._ahead = ahead
        else:
            await self._outbox.release(ahead)

    async def _send_heartbeat(self) -> None:
        batch = self._batch(Lane.EVENTS, None, extras=True)
        answer = await self._channel.post(batch)
        if answer.verdict is not Verdict.ACCEPTED:
            # A heartbeat holds no records: a refusal is about the agent or its metadata.
            await self._refused_extras_or_agent(answer)
            return
        self._heartbeats_sent += 1
        await self._accepted(answer, extras=batch.health is not None)

    async def _send(self, pending: PendingBatch, *, extras: bool, probed: bool = False) -> None:
        """Deliver ``pending``: ack what central stored, split on 413, bisect on 422."""
        batch = self._batch(pending.lane, pending, extras=extras)
        answer = await self._channel.post(batch)
        if answer.verdict is Verdict.ACCEPTED:
            acked = await self._accepted(answer, extras=batch.health is not None)
            if acked == 0:
                raise CentralUnavailableError(
                    f"central acknowledged none of the {pending.record_count()} records sent"
                )
            self._grow_back()
            return
        count = pending.record_count()
        if answer.verdict is Verdict.TOO_LARGE:
            self._batch_size = max(1, min(self._batch_size, count // 2))
            self._good_batches = 0
            self._log.warning("sync.batch_too_large", records=count, batch_size=self._batch_size)
            if count == 1:
                reason = f"central found it too large (HTTP 413): {answer.detail}"
                await self._quarantine(pending, reason)
                return
            first, second = pending.split()
            await self._send(first, extras=extras, probed=probed)
            await self._send(second, extras=False, probed=probed)
            return
        # 422. Is it the agent, its metadata, or the records? Empty probes tell.
        if extras and (batch.points or batch.health is not None):
            probe = await self._channel.post(self._batch(pending.lane, None, extras=True))
            if probe.verdict is Verdict.ACCEPTED:
                await self._accepted(probe, extras=True)
            else:
                await self._refused_extras_or_agent(probe)
            await self._send(pending, extras=False, probed=True)
            return
        if not probed:
            probe = await self._channel.post(self._batch(pending.lane, None, extras=False))
            if probe.verdict is not Verdict.ACCEPTED:
                raise CentralRefusedError(
                    f"central refuses even an empty batch from this agent: {probe.detail}",
                    status=422,
                )
        if count == 1:
            await self._quarantine(pending, f"central refused it (HTTP 422): {answer.detail}")
            return
        first, second = pending.split()
        await self._send(first, extras=False, probed=True)
        await self._send(second, extras=False, probed=True)

    async def _refused_extras_or_agent(self, answer: Answer) -> None:
        """An empty batch was refused. Without points and health: the agent itself is refused."""
        bare = await self._channel.post(self._batch(Lane.EVENTS, None, extras=False))
        if bare.verdict is not Verdict.ACCEPTED:
            raise CentralRefusedError(
                f"central refuses even an empty batch from this agent: {bare.detail}", status=422
            )
        if self._extras_refused is None:
            self._log.error(
                "sync.metadata_refused",
                detail=answer.detail,
                action="point metadata and health are left out until set_points()",
            )
        self._extras_refused = answer.detail
        self._last_error = f"central refused point metadata or health: {answer.detail}"
        self._points_pending = False

    async def _accepted(self, answer: Answer, *, extras: bool) -> int:
        """Central stored a batch: ack its records, note the clock, run its commands."""
        ack = answer.ack
        assert ack is not None
        acked = await self._outbox.ack(ack.accepted) if ack.accepted else 0
        self._batches_sent += 1
        self._records_sent += acked
        self._last_sent_mono = time.monotonic()
        self._last_success_ts = self._clock()
        self._clock_offset_s = ack.server_time.timestamp() - answer.midpoint_ts
        if extras and not self._points_failed:
            self._points_pending = False
        await self._run_commands(ack)
        return acked

    async def _run_commands(self, ack: BatchAck) -> None:
        for command in ack.commands:
            if not await self._outbox.claim_command(command.id):
                self._commands_duplicate += 1
                continue
            try:
                async with asyncio.timeout(self._command_timeout_s):
                    ok, message = await self._on_command(command)
            except TimeoutError:
                ok, message = False, f"timed out after {self._command_timeout_s} s"
            except Exception as exc:  # the handler's failure is the command's result
                ok, message = False, f"{type(exc).__name__}: {exc}"
            self._commands_run += 1
            if len(message) > _MESSAGE_MAX:
                message = message[: _MESSAGE_MAX - 12] + " [truncated]"
            await self._outbox.add_command_result(command.id, ok, message)
            self._log.info("sync.command", command_id=command.id, kind=command.kind, ok=ok)

    async def _quarantine(self, pending: PendingBatch, reason: str) -> None:
        moved = await self._outbox.quarantine(pending, reason)
        self._quarantined += moved

    # ----------------------------------------------------------------------------- batches

    def _batch(self, lane: Lane, pending: PendingBatch | None, *, extras: bool) -> Batch:
        """A batch of ``pending``'s records (or none: a heartbeat or probe).

        With ``extras`` it carries health, and the point metadata while that is pending.
        """
        points: list[PointInfo] = []
        health: AgentHealth | None = None
        if extras and self._extras_refused is None:
            if self._points_pending:
                points = self._call_points()
            health = self._call_health()
        p = pending if pending is not None else PendingBatch(lane)
        return Batch(
            agent_id=self._agent_id,
            plant_id=self._plant_id,
            batch_id=uuid.uuid4().hex,
            lane=lane,
            sent_at=utc_from_posix(self._clock()),
            readings=list(p.readings),
            aggregates=list(p.aggregates),
            events=list(p.events),
            gaps=list(p.gaps),
            command_results=list(p.command_results),
            points=points,
            health=health,
        )

    def _call_points(self) -> list[PointInfo]:
        self._points_failed = False
        try:
            return self._points()
        except Exception as exc:  # a broken callback must not stop the records
            self._log.exception("sync.points_failed", error=str(exc))
            self._points_failed = True  # stays pending: tried again with the next batch
            return []

    def _call_health(self) -> AgentHealth | None:
        try:
            health = self._health()
        except Exception as exc:  # a broken callback must not stop the records
            self._log.exception("sync.health_failed", error=str(exc))
            return None
        stats = self._outbox.statistics()
        oldest = stats.oldest_unsent_ts
        return health.model_copy(
            update={
                "backlog_records": stats.backlog_total,
                "oldest_unsent_ts": None if oldest is None else utc_from_posix(oldest),
                "outbox_bytes": stats.bytes_used,
                "quota_bytes": stats.quota_bytes,
                "gaps_total": stats.gaps_total,
                "clock_offset_s": self._clock_offset_s,
            }
        )

    # ----------------------------------------------------------------------------- state

    def _grow_back(self) -> None:
        self._good_batches += 1
        if self._batch_size < self._max_batch and self._good_batches >= _GROW_BACK_AFTER:
            self._batch_size = min(self._max_batch, self._batch_size * 2)
            self._good_batches = 0

    def _succeeded(self) -> None:
        if self._state != "ok":
            self._log.warning("sync.central_back", after_failures=self._failures)
        self._state = "ok"

    def _failed(self, exc: SyncError | OutboxStorageError) -> None:
        self._failures += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        state: SyncState = (
            "refused" if isinstance(exc, CentralAuthError | CentralRefusedError) else "backoff"
        )
        if state != self._state:
            if state == "refused":
                self._log.error(
                    "sync.refused_by_central",
                    error=str(exc),
                    status=getattr(exc, "status", None),
                    hint="check the agent's token, agent_id and plant_id against central",
                )
            else:
                self._log.warning("sync.central_unavailable", error=str(exc))
        self._state = state

    def _wait_before_retry(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, CentralAuthError | CentralRefusedError):
            return self._slow_retry_s
        backoff = float(self._backoff(retry_state))
        if isinstance(exc, CentralUnavailableError) and exc.retry_after_s is not None:
            return min(self._backoff_max_s, max(backoff, exc.retry_after_s))
        return backoff
