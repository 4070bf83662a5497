"""An outage on a small disk quota: readings thin into aggregates, then the oldest are dropped;
every step is a Gap record and the counts add up; every event is kept; the file stays in quota."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from edge_agent.outbox import REASON_AGGREGATED, REASON_DROPPED, Outbox
from edge_agent.records import EventRecord, ReadingRecord
from protocols.sync import EventCategory, Gap, Lane, ReadingAggregate
from protocols.types import Quality

T0 = 1_750_000_000.0
QUOTA = 1 << 20
POINTS = 20
PERIOD_S = 10.0  # one reading per point every 10 s: six per minute per point


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


def disk_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def test_outage_on_a_small_quota_degrades_then_drops_and_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    clock = Clock()
    written = 0
    event_ids: list[str] = []
    peak_used = peak_disk = 0
    async with await Outbox.open(path, quota_bytes=QUOTA, clock=clock) as outbox:
        step = 0
        for block in range(150):
            batch = []
            for _ in range(100):  # 100 ticks x 20 points per block
                ts = T0 + step * PERIOD_S
                quality = Quality.BAD if step % 97 == 0 else Quality.GOOD
                value = None if quality is Quality.BAD else float(step % 50)
                batch += [
                    ReadingRecord(f"pl/dev/p{p}", "gas.h2s", "ppm", value, quality,
                                  "sensor.fault" if value is None else None, ts, ts)
                    for p in range(POINTS)
                ]  # fmt: skip
                step += 1
            clock.now = T0 + step * PERIOD_S
            await outbox.add_readings(batch)
            written += len(batch)
            if block % 10 == 0:
                event_ids.append(f"ev-{block}")
                await outbox.add_event(
                    EventRecord(f"ev-{block}", EventCategory.ALARM, "limit.hh", "raise", clock.now,
                                point="pl/dev/p1", details={"block": block})
                )  # fmt: skip
            peak_used = max(peak_used, outbox.statistics().bytes_used)
            peak_disk = max(peak_disk, disk_bytes(path))
        await outbox.flush()
        stats = outbox.statistics()

        lane_records = []
        for lane in (Lane.EVENTS, Lane.BACKLOG, Lane.LIVE):
            while (pending := await outbox.take(lane, 5000)) is not None:
                lane_records.append(pending)

    assert peak_used <= QUOTA, f"bytes used peaked at {peak_used} over the {QUOTA} quota"
    assert peak_disk <= QUOTA, f"the file (with its WAL) grew to {peak_disk}"
    assert stats.degraded_readings > 0
    assert stats.dropped_readings > 0

    events = [e for p in lane_records for e in p.events]
    gaps = [g for p in lane_records for g in p.gaps]
    aggregates = [a for p in lane_records for a in p.aggregates]
    raw = [r for p in lane_records for r in p.readings]
    assert [e.event_id for e in events] == event_ids  # every event kept, in order

    aggregated_gaps = [g for g in gaps if g.reason == REASON_AGGREGATED]
    dropped_gaps = [g for g in gaps if g.reason == REASON_DROPPED]
    assert len(gaps) == stats.gaps_total == len(aggregated_gaps) + len(dropped_gaps)
    assert sum(g.count for g in aggregated_gaps) == stats.degraded_readings
    assert sum(g.count for g in dropped_gaps) == stats.dropped_readings
    # Nothing disappears silently: each reading written is raw, inside an aggregate, or in a
    # dropped gap's count.
    assert written == len(raw) + sum(a.count for a in aggregates) + stats.dropped_readings
    assert stats.backlog_records["readings"] == len(raw)
    assert stats.backlog_records["aggregates"] == len(aggregates)

    by_point: dict[str, dict[str, list[Gap | ReadingAggregate]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for g in gaps:
        assert g.point is not None
        by_point[g.point][g.reason].append(g)
    for a in aggregates:
        by_point[a.point]["aggregates"].append(a)
        assert a.count <= 60 / PERIOD_S
        assert a.from_ts.timestamp() // 60 == a.to_ts.timestamp() // 60  # one minute each
        if a.mean is not None:
            assert a.min is not None
            assert a.max is not None
            assert a.min <= a.mean <= a.max
    raw_from = defaultdict(lambda: float("inf"))
    for r in raw:
        raw_from[r.point] = min(raw_from[r.point], r.source_ts.timestamp())
    assert set(by_point) == {f"pl/dev/p{p}" for p in range(POINTS)}
    for point, kinds in by_point.items():
        thinned = kinds[REASON_AGGREGATED]
        for a in kinds["aggregates"]:  # every aggregate lies inside an "aggregated" gap
            assert isinstance(a, ReadingAggregate)
            assert any(g.from_ts <= a.from_ts and a.to_ts <= g.to_ts for g in thinned)
        # Oldest first: dropped data is older than what is kept; aggregated older than raw.
        kept_from = min((a.from_ts for a in kinds["aggregates"]), default=None)
        for g in kinds[REASON_DROPPED]:
            assert kept_from is None or g.to_ts <= kept_from, point
        for g in thinned:
            assert g.to_ts.timestamp() < raw_from[point], point


async def test_events_alone_over_the_quota_are_all_kept_and_flagged(tmp_path: Path) -> None:
    clock = Clock()
    quota = 256 * 1024
    async with await Outbox.open(tmp_path / "o.db", quota_bytes=quota, clock=clock) as outbox:
        await outbox.add_readings(
            [ReadingRecord("pl/dev/p1", "gas.o2", "%vol", 20.9, Quality.GOOD, None, T0, T0)] * 1000
        )
        for i in range(150):
            await outbox.add_event(
                EventRecord(f"ev-{i}", EventCategory.SYSTEM, "system.note", "occurred", T0,
                            message="x" * 1900)
            )  # fmt: skip
        stats = outbox.statistics()
        kept = []
        while (pending := await outbox.take(Lane.EVENTS, 100)) is not None:
            kept += [e.event_id for e in pending.events]
    assert stats.over_quota
    assert stats.bytes_used > quota  # events are never dropped, so the store says it is over
    assert kept == [f"ev-{i}" for i in range(150)]
    assert stats.backlog_records["readings"] == 0
    assert stats.degraded_readings + stats.dropped_readings >= 1000
