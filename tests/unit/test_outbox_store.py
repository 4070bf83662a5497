"""The outbox on real SQLite files: seqs, take/ack/release, lanes, validation, commands, locking."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from edge_agent.outbox import (
    KIND_QUARANTINE,
    InvalidRecordError,
    Outbox,
    OutboxClosedError,
    OutboxLockedError,
    OutboxSchemaError,
    PendingBatch,
)
from edge_agent.outbox.codec import reading_model
from edge_agent.records import EventRecord, ReadingRecord
from protocols.sync import EventCategory, Lane, Priority
from protocols.types import Quality

T0 = 1_750_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def readings(n: int, *, at: float, point: str = "pl/dev/p", start: int = 0) -> list[ReadingRecord]:
    return [
        ReadingRecord(
            point=f"{point}{(start + i) % 7}",
            quantity="gas.h2s",
            unit="ppm",
            value=float(start + i),
            quality=Quality.GOOD,
            reason=None,
            source_ts=at,
            received_ts=at,
        )
        for i in range(n)
    ]


def event(i: int, ts: float = T0) -> EventRecord:
    return EventRecord(
        event_id=f"ev-{i}",
        category=EventCategory.ALARM,
        kind="limit.hh",
        transition="raise",
        ts=ts,
        point="pl/dev/p1",
        priority=Priority.HIGH,
        value=42.0,
        limit=20.0,
        details={"i": i},
    )


def sorted_glob(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern))


async def drain(outbox: Outbox, lane: Lane) -> list[PendingBatch]:
    taken = []
    while (batch := await outbox.take(lane, 1000)) is not None:
        taken.append(batch)
    return taken


async def test_seqs_increase_across_kinds_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    clock = Clock()
    outbox = await Outbox.open(path, clock=clock)
    await outbox.add_readings(readings(5, at=T0))
    e1 = await outbox.add_event(event(1))
    g1 = await outbox.add_gap(
        point="pl/dev/p1", stream=None, from_ts=T0 - 10, to_ts=T0, count=3, reason="poll.timeout"
    )
    c1 = await outbox.add_command_result("cmd-1", True, "done")
    await outbox.add_readings(readings(5, at=T0))
    await outbox.flush()
    assert [e1, g1, c1] == [6, 7, 8]
    assert outbox.statistics().last_seq == 13
    await outbox.close()

    outbox = await Outbox.open(path, clock=clock)
    e2 = await outbox.add_event(event(2))
    assert e2 == 14  # a clean close leaves no hole
    events = await drain(outbox, Lane.EVENTS)
    live = await drain(outbox, Lane.LIVE)
    seqs = [s for b in events + live for s in b.seqs]
    assert sorted(seqs) == list(range(1, 15))
    # the live lane goes newest first, so fresh values reach central before older live ones
    assert [r.seq for r in live[0].readings] == [13, 12, 11, 10, 9, 5, 4, 3, 2, 1]
    kinds = {type(r).__name__: r.seq for b in events for r in b.records()}
    assert kinds == {"AlarmEvent": 14, "Gap": 7, "CommandResult": 8}
    await outbox.close()


async def test_take_ack_release(tmp_path: Path) -> None:
    clock = Clock()
    async with await Outbox.open(tmp_path / "o.db", clock=clock) as outbox:
        await outbox.add_readings(readings(30, at=T0))
        await outbox.flush()
        first = await outbox.take(Lane.LIVE, 10)
        second = await outbox.take(Lane.LIVE, 10)
        assert first is not None
        assert second is not None
        assert first.seqs == list(range(21, 31))  # the newest ten first
        assert second.seqs == list(range(11, 21))  # in flight is never taken twice
        assert outbox.statistics().in_flight == 20

        await outbox.release(first)
        again = await outbox.take(Lane.LIVE, 100)
        assert again is not None
        assert again.seqs == list(range(1, 11)) + list(range(21, 31))

        assert await outbox.ack(second.ranges()) == 10
        assert await outbox.ack(second.ranges()) == 0  # already gone
        await outbox.release(again)
        assert await outbox.ack([(1, 30)]) == 0  # an ack never deletes what is not in flight
        stats = outbox.statistics()
        assert stats.backlog_records["readings"] == 20
        assert stats.in_flight == 0

        rest = await drain(outbox, Lane.LIVE)
        assert sorted(s for b in rest for s in b.seqs) == list(range(1, 11)) + list(range(21, 31))
        for batch in rest:
            await outbox.ack(batch.ranges())
        assert await outbox.take(Lane.LIVE, 10) is None
        assert outbox.statistics().backlog_total == 0
        assert outbox.statistics().oldest_unsent_ts is None


async def test_lanes_split_by_age_and_kind(tmp_path: Path) -> None:
    clock = Clock()
    async with await Outbox.open(tmp_path / "o.db", clock=clock, live_window_s=60) as outbox:
        await outbox.add_readings(readings(10, at=T0))
        await outbox.flush()
        clock.now = T0 + 120  # the first ten are two minutes old now
        await outbox.add_readings(readings(5, at=clock.now, start=10))
        seq_event = await outbox.add_event(event(1, ts=clock.now))

        events = await outbox.take(Lane.EVENTS, 100)
        live = await outbox.take(Lane.LIVE, 100)
        backlog = await outbox.take(Lane.BACKLOG, 100)
        assert events is not None
        assert live is not None
        assert backlog is not None
        assert events.seqs == [seq_event]
        assert not events.readings
        assert live.seqs == list(range(11, 16))
        assert backlog.seqs == list(range(1, 11))
        assert await outbox.take(Lane.BACKLOG, 100) is None

        # Readings in flight that age out of the live window are not taken again by the backlog.
        clock.now += 120
        assert await outbox.take(Lane.BACKLOG, 100) is None
        await outbox.release(live)
        aged = await outbox.take(Lane.BACKLOG, 100)
        assert aged is not None
        assert aged.seqs == list(range(11, 16))


async def test_live_lane_survives_reopen(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "o.db"
    async with await Outbox.open(path, clock=clock) as outbox:
        await outbox.add_readings(readings(4, at=T0))
    clock.now = T0 + 5
    async with await Outbox.open(path, clock=clock) as outbox:
        live = await outbox.take(Lane.LIVE, 10)
        assert live is not None
        assert live.seqs == [1, 2, 3, 4]


async def test_reading_values_round_trip(tmp_path: Path) -> None:
    record = ReadingRecord(
        point="pl/gas-1/h2s",
        quantity="gas.h2s",
        unit="ppm",
        value=None,
        quality=Quality.BAD,
        reason="modbus.exception.2",
        source_ts=T0 - 0.25,
        received_ts=T0,
    )
    async with await Outbox.open(tmp_path / "o.db", clock=Clock()) as outbox:
        await outbox.add_readings([record])
        await outbox.flush()
        batch = await outbox.take(Lane.LIVE, 1)
    assert batch is not None
    (reading,) = batch.readings
    assert (reading.point, reading.quantity, reading.unit) == ("pl/gas-1/h2s", "gas.h2s", "ppm")
    assert reading.value is None
    assert reading.quality is Quality.BAD
    assert reading.reason == "modbus.exception.2"
    assert reading.source_ts.timestamp() == T0 - 0.25
    assert reading.received_ts.timestamp() == T0


async def test_invalid_event_is_refused_with_the_field_named(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path / "o.db", clock=Clock()) as outbox:
        bad = EventRecord(
            event_id="e", category=EventCategory.ALARM, kind="limit.hh", transition="raise",
            ts=T0, point="no-slashes",
        )  # fmt: skip
        with pytest.raises(InvalidRecordError, match="point"):
            await outbox.add_event(bad)
        with pytest.raises(InvalidRecordError, match="JSON"):
            await outbox.add_event(
                EventRecord("e2", EventCategory.ALARM, "k", "raise", T0, details={"x": object()})
            )
        assert outbox.statistics().backlog_records["events"] == 0
        assert outbox.statistics().last_seq == 0  # a refused event takes no seq


async def test_reading_that_does_not_fit_the_schema_is_quarantined_at_take(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "o.db"
    async with await Outbox.open(path, clock=clock) as outbox:
        good = readings(3, at=T0)
        bad = ReadingRecord("not a point id", "gas.h2s", "ppm", 1.0, Quality.GOOD, None, T0, T0)
        await outbox.add_readings([good[0], bad, good[1], good[2]])
        await outbox.flush()
        live = await outbox.take(Lane.LIVE, 10)
        assert live is not None
        assert live.seqs == [1, 3, 4]
        events = await outbox.take(Lane.EVENTS, 10)
        assert events is not None
        (notice,) = events.events
        assert notice.kind == KIND_QUARANTINE
        assert notice.details["seq_ranges"] == [[2, 2]] or notice.details["seq_ranges"] == [(2, 2)]
        assert "point" in notice.message
        assert outbox.statistics().quarantined == 1
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        rows = db.execute("SELECT seq, kind, body FROM quarantine").fetchall()
    assert rows[0][0] == 2
    assert rows[0][1] == "reading"
    assert "not a point id" in rows[0][2]


async def test_config_change_does_not_touch_buffered_rows(tmp_path: Path) -> None:
    """A point reconfigured (new unit) keeps its old rows as they were written."""
    clock = Clock()
    path = tmp_path / "o.db"
    before = ReadingRecord("pl/dev/p1", "gas.h2s", "ppm", 5.0, Quality.GOOD, None, T0, T0)
    after = ReadingRecord("pl/dev/p1", "gas.h2s", "ppb", 5000.0, Quality.GOOD, None, T0, T0)
    other = ReadingRecord("pl/dev/p2", "gas.o2", "%vol", 20.9, Quality.GOOD, None, T0, T0)
    async with await Outbox.open(path, clock=clock) as outbox:
        await outbox.add_readings([before, other])
    async with await Outbox.open(path, clock=clock) as outbox:  # the agent restarts, new config
        await outbox.add_readings([after, before])
        await outbox.flush()
        batch = await outbox.take(Lane.LIVE, 10)
    assert batch is not None
    got = sorted((r.seq, r.point, r.unit, r.value) for r in batch.readings)
    assert got == [
        (1, "pl/dev/p1", "ppm", 5.0),
        (2, "pl/dev/p2", "%vol", 20.9),
        (3, "pl/dev/p1", "ppb", 5000.0),
        (4, "pl/dev/p1", "ppm", 5.0),
    ]


async def test_commands_are_claimed_once_and_interrupted_ones_reported(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with await Outbox.open(path, clock=Clock()) as outbox:
        assert await outbox.claim_command("c-1") is True
        assert await outbox.claim_command("c-1") is False
        await outbox.add_command_result("c-1", True, "acked")
        assert await outbox.claim_command("c-2") is True  # the agent stops before a result
    async with await Outbox.open(path, clock=Clock()) as outbox:
        assert await outbox.claim_command("c-1") is False
        assert await outbox.claim_command("c-2") is False
        batch = await outbox.take(Lane.EVENTS, 10)
    assert batch is not None
    results = {r.command_id: r for r in batch.command_results}
    assert results["c-1"].ok is True
    assert results["c-2"].ok is False
    assert "interrupted" in results["c-2"].message


async def test_a_second_opener_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with await Outbox.open(path, clock=Clock()):
        with pytest.raises(OutboxLockedError, match="another process"):
            await Outbox.open(path, clock=Clock())


async def test_newer_schema_is_refused_and_left_in_place(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with await Outbox.open(path, clock=Clock()) as outbox:
        await outbox.add_event(event(1))
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(OutboxSchemaError, match="schema version 99"):
        await Outbox.open(path, clock=Clock())
    assert path.exists()
    assert not sorted_glob(tmp_path, "*.corrupt-*")


async def test_closed_outbox_refuses_work(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "o.db", clock=Clock())
    await outbox.add_readings(readings(3, at=T0))
    await outbox.close()
    await outbox.close()  # idempotent
    with pytest.raises(OutboxClosedError):
        await outbox.add_readings(readings(1, at=T0))
    async with await Outbox.open(tmp_path / "o.db", clock=Clock()) as reopened:
        assert reopened.statistics().backlog_records["readings"] == 3  # close flushed


async def test_buffered_readings_are_committed_by_the_flush_interval(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path / "o.db", flush_interval_s=0.05) as outbox:
        seen = outbox.commit_count
        await outbox.add_readings(readings(3, at=T0))
        assert outbox.statistics().buffered_readings == 3
        assert await outbox.wait_for_commit(seen, timeout_s=5)
        assert outbox.statistics().backlog_records["readings"] == 3
        assert outbox.statistics().buffered_readings == 0


async def test_cancelled_writer_does_not_wedge_the_store(tmp_path: Path) -> None:
    async with await Outbox.open(tmp_path / "o.db", clock=Clock()) as outbox:
        await outbox.add_readings(readings(5000, at=T0))
        task = asyncio.create_task(outbox.add_event(event(1)))
        await asyncio.sleep(0)  # let it start its transaction
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seq = await outbox.add_event(event(2))
        events = await outbox.take(Lane.EVENTS, 10)
        assert events is not None
        assert events.seqs[-1] == seq


def test_pending_batch_split_keeps_every_record_once() -> None:
    rs = [reading_model(i, ("pl/d/p", "gas.h2s", "ppm"), 1.0, 0, None, T0, T0) for i in range(1, 8)]
    batch = PendingBatch.from_records(Lane.LIVE, rs)
    a, b = batch.split()
    assert a.seqs == [1, 2, 3]
    assert b.seqs == [4, 5, 6, 7]
    assert batch.ranges() == [(1, 7)]
