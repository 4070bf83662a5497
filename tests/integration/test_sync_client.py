"""The sync client against a central speaking the ingest contract over a real loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from edge_agent.outbox import KIND_QUARANTINE, Outbox
from edge_agent.records import EventRecord, ReadingRecord
from edge_agent.sync import (
    CentralAuthError,
    CentralRefusedError,
    CentralUnavailableError,
    SyncClient,
)
from protocols.sync import AgentHealth, Command, CommandKind, EventCategory, Lane, PointInfo
from protocols.types import Quality
from tests.support.fake_central import FakeCentral

TOKEN = "s3cret-agent-token"
POINTS = [
    PointInfo(point="plant-1/gas-1/h2s", device="gas-1", quantity="gas.h2s", unit="ppm",
              profile="gd-h2s-mb")
]  # fmt: skip


def readings(n: int, *, age_s: float = 0.0, start: int = 0) -> list[ReadingRecord]:
    ts = time.time() - age_s
    return [
        ReadingRecord("plant-1/gas-1/h2s", "gas.h2s", "ppm", float(start + i), Quality.GOOD,
                      None, ts, ts)
        for i in range(n)
    ]  # fmt: skip


def alarm(i: int) -> EventRecord:
    return EventRecord(f"ev-{i}", EventCategory.ALARM, "limit.hh", "raise", time.time(),
                       point="plant-1/gas-1/h2s", value=30.0, limit=20.0)  # fmt: skip


@contextlib.asynccontextmanager
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Outbox, FakeCentral]]:
    """An outbox and a central, both torn down inside the test (they own tasks, and the suite's
    leak check runs before async fixtures are finalized)."""
    async with (
        FakeCentral(token=TOKEN) as central,
        await Outbox.open(tmp_path / "outbox.db", flush_interval_s=0.05) as outbox,
    ):
        yield outbox, central


class Commands:
    """An on_command handler that records what it ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def __call__(self, command: Command) -> tuple[bool, str]:
        self.ran.append(command.id)
        if command.payload.get("fail"):
            raise RuntimeError("alarm not found")
        return True, f"did {command.kind}"


def client_for(
    outbox: Outbox, central: FakeCentral, *, on_command: Commands | None = None, **options: Any
) -> SyncClient:
    defaults: dict[str, Any] = {
        "batch_size": 1000,
        "heartbeat_s": 3600.0,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.2,
        "slow_retry_s": 0.1,
        "timeout_s": 5.0,
    }
    defaults.update(options)
    return SyncClient(
        outbox,
        central_url=central.url,
        token=TOKEN,
        agent_id="agent-1",
        plant_id="plant-1",
        on_command=on_command or Commands(),
        health=lambda: AgentHealth(ts=datetime.now(UTC), version="test"),
        points=lambda: list(POINTS),
        **defaults,
    )


async def sync_until_idle(client: SyncClient, rounds: int = 200) -> None:
    for _ in range(rounds):
        if not await client.sync_once():
            return
    raise AssertionError(f"still sending after {rounds} rounds")


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def test_lanes_go_events_then_live_then_backlog(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(250, age_s=3600))  # backlog: an hour old
        await outbox.add_readings(readings(50, start=1000))  # live
        await outbox.add_event(alarm(1))
        await outbox.flush()
        async with client_for(outbox, central, batch_size=100) as client:
            for _ in range(2):
                assert await client.sync_once()
            # Live caught up (its batch was not full): the backlog gets the next turn even though
            # new live readings arrived meanwhile; then live again, then the rest of the backlog.
            await outbox.add_readings(readings(10, start=2000))
            await outbox.flush()
            await sync_until_idle(client)

        lanes = [(b.lane, b.record_count()) for b in central.batches()]
        assert lanes == [
            (Lane.EVENTS, 1),
            (Lane.LIVE, 50),
            (Lane.BACKLOG, 100),
            (Lane.LIVE, 10),
            (Lane.BACKLOG, 100),
            (Lane.BACKLOG, 50),
        ]
        first = central.batches()[0]
        assert first.points == POINTS
        assert first.health is not None
        assert all(not b.points for b in central.batches()[1:])
        assert all(r.content_encoding == "gzip" for r in central.state.requests)
        assert all(r.authorization == f"Bearer {TOKEN}" for r in central.state.requests)
        assert central.seqs() == list(range(1, 312))
        assert outbox.statistics().backlog_total == 0


async def test_central_down_then_up_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await central.stop()
        client = client_for(outbox, central, batch_size=200)
        runner = asyncio.create_task(client.run(), name="sync")
        try:
            for i in range(5):
                await outbox.add_readings(readings(300, start=i * 300))
                await outbox.add_event(alarm(i))
            await wait_until(lambda: client.statistics().failures >= 3)
            assert client.statistics().state == "backoff"
            assert outbox.statistics().backlog_total == 1505  # all kept while central is down
            await central.start()  # same port
            await wait_until(lambda: outbox.statistics().backlog_total == 0)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        assert central.seqs() == list(range(1, 1506))
        assert central.state.duplicates == 0
        stats = client.statistics()
        assert stats.state == "ok"
        assert stats.records_sent == 1505
        assert "ConnectError" in (stats.last_error or "")


async def test_server_errors_back_off_and_keep_the_records(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(20))
        await outbox.flush()
        central.state.status_override = 503
        async with client_for(outbox, central) as client:
            with pytest.raises(CentralUnavailableError, match="503"):
                await client.sync_once()
            assert outbox.statistics().backlog_records["readings"] == 20
            assert outbox.statistics().in_flight == 0  # released for the next try
            central.state.status_override = None
            await sync_until_idle(client)
        assert central.seqs() == list(range(1, 21))


async def test_unauthorized_keeps_the_records_and_never_logs_the_token(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(20))
        await outbox.add_event(alarm(1))
        central.state.token = "rotated-token"
        with structlog.testing.capture_logs() as logs:
            async with client_for(outbox, central) as client:
                for _ in range(3):
                    with pytest.raises(CentralAuthError):
                        await client.sync_once()
                assert client.statistics().state == "refused"
                assert outbox.statistics().backlog_total == 21
                central.state.token = TOKEN  # central is fixed
                await sync_until_idle(client)
                assert client.statistics().state == "ok"
        assert central.seqs() == list(range(1, 22))
        refused = [e for e in logs if e["event"] == "sync.refused_by_central"]
        assert len(refused) == 1  # a configuration error is logged once, not per retry
        assert TOKEN not in repr(logs)
        assert "rotated-token" not in repr(logs)


async def test_too_large_halves_the_batch(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(100))
        await outbox.flush()
        central.state.max_records = 30
        async with client_for(outbox, central, batch_size=100) as client:
            await sync_until_idle(client)
            assert client.statistics().batch_size == 25
        sizes = [b.record_count() for b in central.batches()]
        assert all(size <= 30 for size in sizes)
        assert sum(sizes) == 100
        assert [r.status for r in central.state.requests][:3] == [413, 413, 200]
        assert central.seqs() == list(range(1, 101))


async def test_refused_records_are_bisected_out_and_quarantined(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(100))
        await outbox.flush()
        bad_values = {13.0, 77.0}
        central.state.refuse = lambda kind, r: kind == "readings" and r.value in bad_values
        async with client_for(outbox, central, batch_size=100) as client:
            await sync_until_idle(client)
            assert client.statistics().quarantined == 2
        stored = central.records("readings")
        assert len(stored) == 98
        assert not {r["value"] for r in stored} & bad_values
        notices = [e for e in central.records("events") if e["kind"] == KIND_QUARANTINE]
        assert len(notices) == 2  # one per isolated record, each synced like any event
        assert {tuple(n["details"]["seq_ranges"][0]) for n in notices} == {(14, 14), (78, 78)}
        assert all("HTTP 422" in n["message"] for n in notices)
        stats = outbox.statistics()
        assert stats.quarantined == 2
        assert stats.backlog_total == 0
        # Bisection costs O(log n) requests per bad record, not one per record.
        assert len(central.state.requests) < 40


async def test_an_agent_central_refuses_outright_quarantines_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(10))
        await outbox.flush()
        central.state.refuse_empty = True
        async with client_for(outbox, central) as client:
            with pytest.raises(CentralRefusedError):
                await client.sync_once()
            assert client.statistics().state == "refused"
        assert outbox.statistics().quarantined == 0
        assert outbox.statistics().backlog_records["readings"] == 10


async def test_commands_run_once_and_their_results_sync_back(tmp_path: Path) -> None:
    async with FakeCentral(token=TOKEN) as central:
        await _commands_run_once(tmp_path, central)


async def _commands_run_once(tmp_path: Path, central: FakeCentral) -> None:
    now = datetime.now(UTC)
    central.queue_command(Command(id="c-ack", kind=CommandKind.ALARM_ACK, issued_at=now,
                                  issued_by="op@central", payload={"alarm": "a1"}))  # fmt: skip
    central.queue_command(Command(id="c-bad", kind=CommandKind.ALARM_SHELVE, issued_at=now,
                                  issued_by="op@central", payload={"fail": True}))  # fmt: skip
    handler = Commands()
    path = tmp_path / "outbox.db"
    async with await Outbox.open(path) as outbox:
        await outbox.add_readings(readings(5))
        await outbox.add_event(alarm(1))
        async with client_for(outbox, central, on_command=handler) as client:
            await sync_until_idle(client)
            assert client.statistics().commands_run == 2
    assert sorted(handler.ran) == ["c-ack", "c-bad"]
    results = {cid: r[-1] for cid, r in central.state.results.items()}
    assert results["c-ack"]["ok"] is True
    assert results["c-ack"]["message"] == "did alarm.ack"
    assert results["c-bad"]["ok"] is False
    assert "alarm not found" in results["c-bad"]["message"]

    # Central lost the results and sends the commands again, to a restarted agent.
    central.state.results.clear()
    async with await Outbox.open(path) as outbox:
        await outbox.add_event(alarm(2))
        async with client_for(outbox, central, on_command=handler) as client:
            await sync_until_idle(client)
            assert client.statistics().commands_duplicate == 2
    assert sorted(handler.ran) == ["c-ack", "c-bad"]  # never run twice


async def test_heartbeat_carries_health_when_idle(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        async with client_for(outbox, central, heartbeat_s=0.1) as client:
            runner = asyncio.create_task(client.run(), name="sync")
            try:
                await wait_until(lambda: len(central.batches()) >= 3)
            finally:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
            stats = client.statistics()
        beats = central.batches()
        assert all(b.record_count() == 0 and b.health is not None for b in beats)
        assert beats[0].points == POINTS
        assert not beats[1].points
        health = beats[-1].health
        assert health is not None
        assert health.quota_bytes == outbox.statistics().quota_bytes
        assert health.version == "test"
        assert health.clock_offset_s is not None
        assert stats.heartbeats_sent >= 3
        assert stats.clock_offset_s is not None
        assert abs(stats.clock_offset_s) < 5  # same machine, same clock


async def test_new_records_wake_an_idle_client(tmp_path: Path) -> None:
    async with (
        rig(tmp_path) as (outbox, central),
        client_for(outbox, central, heartbeat_s=3600) as client,
    ):
        runner = asyncio.create_task(client.run(), name="sync")
        try:
            await wait_until(lambda: len(central.batches()) >= 1)  # the first, with points
            await outbox.add_event(alarm(1))
            await wait_until(lambda: central.seqs() == [1], timeout_s=5)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
