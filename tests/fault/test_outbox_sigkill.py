"""A writer process SIGKILLed mid-write, again and again: every seq it saw committed is there,
exactly once, and no seq is ever handed out twice."""

from __future__ import annotations

import asyncio
import random
import re
import sys
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox
from protocols.sync import Lane
from tests.support.procs import Child, python_env, wait_for

WRITER = r"""
import asyncio, sys, time
from pathlib import Path
from edge_agent.outbox import Outbox
from edge_agent.records import EventRecord, ReadingRecord
from protocols.sync import EventCategory
from protocols.types import Quality

async def main(path: str) -> None:
    outbox = await Outbox.open(Path(path), flush_interval_s=0.05, commit_rows=2000)
    print("OPEN", outbox.statistics().last_seq, flush=True)
    i = 0
    while True:
        now = time.time()
        batch = [
            ReadingRecord(f"pl/dev/p{k % 50}", "gas.h2s", "ppm", float(i), Quality.GOOD, None, now, now)
            for k in range(700)
        ]
        await outbox.add_readings(batch)
        last = outbox.statistics().last_seq
        await outbox.flush()
        print("R", last - len(batch) + 1, last, flush=True)
        if i % 3 == 0:
            seq = await outbox.add_event(
                EventRecord(f"e{i}", EventCategory.ALARM, "limit.hh", "raise", now, point="pl/dev/p1")
            )
            print("E", seq, flush=True)
        i += 1

asyncio.run(main(sys.argv[1]))
"""

LINE = re.compile(r"^(R (\d+) (\d+)|E (\d+)|OPEN (\d+))$")


def committed_seqs(output: str) -> tuple[set[int], int]:
    """Seqs the child printed as committed (complete lines only), and how many lines it printed."""
    seqs: set[int] = set()
    lines = 0
    for line in output.split("\n")[:-1]:  # the last piece may be cut by the kill
        m = LINE.match(line)
        if m is None:
            continue
        lines += 1
        if m.group(2):
            seqs.update(range(int(m.group(2)), int(m.group(3)) + 1))
        elif m.group(4):
            seqs.add(int(m.group(4)))
    return seqs, lines


async def stored_seqs(path: Path) -> list[int]:
    outbox = await Outbox.open(path)
    try:
        seqs: list[int] = []
        taken = []
        for lane in (Lane.EVENTS, Lane.LIVE, Lane.BACKLOG):
            while (batch := await outbox.take(lane, 5000)) is not None:
                taken.append(batch)
                seqs.extend(batch.seqs)
        for batch in taken:
            await outbox.release(batch)
        return seqs
    finally:
        await outbox.close()


@pytest.mark.slow
async def test_sigkill_mid_write_loses_nothing_committed(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "outbox.db"
    rng = random.Random(7)
    all_printed: set[int] = set()
    highest_before = 0
    for round_ in range(5):
        log = tmp_path / f"writer-{round_}.log"
        child = Child([sys.executable, str(script), str(path)], log=log, env=python_env())
        try:
            wait_for(
                lambda c=child: committed_seqs(c.output())[1] >= 8 or not c.alive(),  # type: ignore[misc]
                timeout_s=60,
                what="the writer to commit a few batches",
            )
            assert child.alive(), child.output()
            await asyncio.sleep(rng.uniform(0.0, 0.05))  # land anywhere in the write loop
            child.kill()
        finally:
            child.stop()
        output = log.read_text(errors="replace")
        printed, _ = committed_seqs(output)
        assert printed, output
        assert min(printed) > highest_before, "a seq was handed out again after a restart"
        assert not printed & all_printed
        all_printed |= printed

        stored = await stored_seqs(path)
        assert len(stored) == len(set(stored)), "a seq is stored twice"
        missing = all_printed - set(stored)
        assert not missing, f"committed seqs lost after SIGKILL: {sorted(missing)[:10]}"
        highest_before = max(stored)
