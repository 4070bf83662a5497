"""Outbox throughput: readings/s through add_readings + commit, and take + ack records/s.

    python tests/benchmarks/bench_outbox.py [--quick]

1,000 points, one add_readings call per poll cycle (1,000 readings). The raw ceiling is SQLite's
own executemany of the same rows into the same table (WAL, synchronous=NORMAL, the same commit
size), measured in the same run; the reading figure is reported as a ratio to it. Take + ack is
compared with a raw SELECT + DELETE of the same rows (no wire models built). Each figure is the
median of several repeats after a warm-up. Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge_agent.outbox import Outbox
from edge_agent.outbox.schema import DDL
from edge_agent.records import ReadingRecord
from protocols.sync import Lane
from protocols.types import Quality

POINTS = 1000
COMMIT_ROWS = 10_000


def make_cycles(cycles: int) -> list[list[ReadingRecord]]:
    t0 = time.time()
    return [
        [
            ReadingRecord(f"plant/dev{p // 10}/p{p}", "gas.h2s", "ppm", float(c % 100), Quality.GOOD,
                          None, t0 + c, t0 + c)
            for p in range(POINTS)
        ]
        for c in range(cycles)
    ]  # fmt: skip


async def run_outbox(
    folder: Path, cycles: list[list[ReadingRecord]], take_batch: int
) -> dict[str, float]:
    outbox = await Outbox.open(folder / "outbox.db", commit_rows=COMMIT_ROWS)
    try:
        total = sum(len(c) for c in cycles)
        start = time.perf_counter()
        for cycle in cycles:
            await outbox.add_readings(cycle)
        await outbox.flush()
        add_s = time.perf_counter() - start

        taken = 0
        start = time.perf_counter()
        while (batch := await outbox.take(Lane.LIVE, take_batch)) is not None:
            taken += await outbox.ack(batch.ranges())
        take_s = time.perf_counter() - start
        assert taken == total, (taken, total)
    finally:
        await outbox.close()
    return {"add_per_s": total / add_s, "take_ack_per_s": total / take_s}


def run_raw(folder: Path, cycles: list[list[ReadingRecord]], take_batch: int) -> dict[str, float]:
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in DDL:
        db.execute(statement)
    rows = [
        (i + 1, i % POINTS + 1, r.value, 0, r.reason, r.source_ts, r.received_ts)
        for i, r in enumerate(r for c in cycles for r in c)
    ]
    start = time.perf_counter()
    for k in range(0, len(rows), COMMIT_ROWS):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)", rows[k : k + COMMIT_ROWS]
        )
        db.execute("COMMIT")
    insert_s = time.perf_counter() - start

    start = time.perf_counter()
    last = 0
    while True:
        got = db.execute(
            "SELECT seq, stream, value, quality, reason, source_ts, received_ts FROM readings"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, take_batch),
        ).fetchall()
        if not got:
            break
        db.execute("DELETE FROM readings WHERE seq BETWEEN ? AND ?", (got[0][0], got[-1][0]))
        last = got[-1][0]
    select_s = time.perf_counter() - start
    db.close()
    return {
        "raw_insert_per_s": len(rows) / insert_s,
        "raw_select_delete_per_s": len(rows) / select_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run under 60 s")
    args = parser.parse_args()
    cycles_n, repeats = (100, 3) if args.quick else (1000, 5)
    take_batch = 1000
    cycles = make_cycles(cycles_n)

    results: dict[str, list[float]] = {}
    for i in range(repeats + 1):  # the first run is the warm-up
        with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
            folder = Path(tmp)
            figures = asyncio.run(run_outbox(folder, cycles if i else cycles[:10], take_batch))
            figures |= run_raw(folder, cycles if i else cycles[:10], take_batch)
        if i == 0:
            continue
        for key, value in figures.items():
            results.setdefault(key, []).append(value)
    median = {key: statistics.median(values) for key, values in results.items()}
    out = {
        "benchmark": "outbox",
        "mode": "quick" if args.quick else "full",
        "points": POINTS,
        "readings_per_run": cycles_n * POINTS,
        "commit_rows": COMMIT_ROWS,
        "take_batch": take_batch,
        "repeats": repeats,
        "add_readings_per_s": round(median["add_per_s"]),
        "raw_executemany_rows_per_s": round(median["raw_insert_per_s"]),
        "add_ratio_to_raw": round(median["add_per_s"] / median["raw_insert_per_s"], 3),
        "take_ack_records_per_s": round(median["take_ack_per_s"]),
        "raw_select_delete_rows_per_s": round(median["raw_select_delete_per_s"]),
        "take_ack_ratio_to_raw": round(
            median["take_ack_per_s"] / median["raw_select_delete_per_s"], 3
        ),
        "target_readings_per_s": 100_000,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
