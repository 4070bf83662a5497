"""A damaged outbox file is moved aside (kept), a fresh one started, the reset reported as an
event, and seqs continue above everything the old file had handed out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_agent.outbox import KIND_RESET, Outbox
from edge_agent.records import EventRecord, ReadingRecord
from protocols.sync import EventCategory, Lane
from protocols.types import Quality

T0 = 1_750_000_000.0


def clock() -> float:
    return T0


async def fill(path: Path, n: int = 20_000) -> int:
    """Write ``n`` readings and an event; return the last seq used."""
    async with await Outbox.open(path, clock=clock) as outbox:
        await outbox.add_readings(
            [
                ReadingRecord(
                    f"pl/dev/p{i % 9}", "gas.lel", "%LEL", 1.0, Quality.GOOD, None, T0, T0
                )
                for i in range(n)
            ]
        )
        await outbox.add_event(EventRecord("e1", EventCategory.ALARM, "limit.h", "raise", T0))
        return outbox.statistics().last_seq


def moved_aside(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.corrupt-*"))


def companion(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def garbage(path: Path) -> bytes:
    data = os.urandom(path.stat().st_size)
    path.write_bytes(data)
    return data


def truncate(path: Path) -> bytes:
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)
    return path.read_bytes()


@pytest.mark.parametrize("damage", [garbage, truncate], ids=["garbage", "truncated"])
async def test_corrupt_file_is_moved_aside_and_seqs_continue(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "outbox.db"
    last = await fill(path)
    assert not companion(path, "-wal").exists()  # a clean close checkpointed it
    damaged = damage(path)

    async with await Outbox.open(path, clock=clock) as outbox:
        stats = outbox.statistics()
        events = await outbox.take(Lane.EVENTS, 10)
        seq = await outbox.add_event(EventRecord("e2", EventCategory.ALARM, "limit.h", "raise", T0))

    moved = moved_aside(tmp_path)
    assert [p.name for p in moved] == [Path(stats.reset_from[0]).name]
    assert moved[0].read_bytes() == damaged  # kept as it was, for recovery
    assert events is not None
    (reset,) = events.events
    assert reset.kind == KIND_RESET
    assert reset.category is EventCategory.SYSTEM
    assert str(moved[0]) in reset.message
    assert reset.details["moved_to"] == [str(moved[0])]
    assert reset.seq > last
    assert seq > reset.seq
    assert stats.backlog_records["readings"] == 0  # a fresh store


async def test_seqs_stay_unique_when_the_side_file_is_lost_too(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await fill(path)
    garbage(path)
    companion(path, ".seq").unlink()
    async with await Outbox.open(path, clock=clock) as outbox:
        events = await outbox.take(Lane.EVENTS, 10)
    assert events is not None
    # Nothing says how far the old file got: start above any seq an agent can have used.
    assert events.events[0].seq >= int(T0 * 1_000_000)


async def test_a_lost_side_file_alone_is_recovered_from_the_database(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    last = await fill(path, n=100)
    companion(path, ".seq").write_text("{not json")
    async with await Outbox.open(path, clock=clock) as outbox:
        seq = await outbox.add_event(EventRecord("e2", EventCategory.ALARM, "k", "raise", T0))
        assert outbox.statistics().backlog_records["readings"] == 100
    assert seq == last + 1
    assert not moved_aside(tmp_path)


async def test_an_empty_file_is_simply_new(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"")
    async with await Outbox.open(path, clock=clock) as outbox:
        assert await outbox.take(Lane.EVENTS, 10) is None
    assert not moved_aside(tmp_path)
