"""The agent process SIGKILLed five times at random moments while it polls ~1,000 readings/s,
commits, syncs and acks, and started again each time: every record it had committed reaches
central exactly once (SQLite, and PostgreSQL when available).

What was committed at each kill is known without trusting the agent: right after the kill (and
before the restart) the test reads the outbox file: the records it still holds were committed
and not acked. Records already acked are at central. Within one life of the agent seqs are handed
out consecutively and committed in order, starting above the seq floor its file had when it
started; so the committed records of a life are exactly the seqs from that floor up to the last
one committed, and central must hold that whole range, each seq once: a hole is a committed
record lost (or an acked one central dropped), a record of the kill-time outbox missing at central
is a committed record lost after the restart.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.support.central import database_url_for
from tests.support.procs import wait_for
from tests.support.stack import (
    Stack,
    central_records,
    load_devices,
    load_profile,
    outbox_contents,
    seq_floor,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
KILLS = 5
SEED = 20260714


@pytest.mark.parametrize("database", DATABASES)
def test_agent_sigkilled_repeatedly_delivers_everything_it_committed_once(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    stack = Stack(
        tmp_path, database_url_for(database, request, tmp_path), profiles=[load_profile()]
    )
    devices = load_devices(1000, poll_s=0.5)
    lives: list[
        tuple[int, set[int]]
    ] = []  # (first seq of the life, what its file held at the kill)
    held: list[int] = []
    try:
        stack.start_central()
        stack.simulators("load", devices)
        agent = stack.agent
        for life in range(1, KILLS + 1):
            # Lives 2 and 3 run with central away, so the outbox holds a backlog at their kills;
            # lives 4 and 5 are killed while that backlog drains (sent, acked, deleted) and new
            # readings are committed at the same time.
            if life == 2:
                stack.central.stop(kill=True)
            elif life == 4:
                stack.central.start()
            first = seq_floor(agent.outbox) + 1
            agent.start(devices)
            wait_for(
                lambda: agent.status()["pipeline"]["readings_out"] >= 1000,
                timeout_s=60,
                interval_s=0.05,
                what="the agent polling",
            )
            # Anywhere in the poll / commit / send / ack cycle (a commit every 0.2 s, a poll
            # every 0.5 s, a batch whenever there is something to send).
            time.sleep(rng.uniform(0.0, 2.0))
            agent.stop(kill=True)
            lives.append((first, outbox_contents(agent.outbox).seqs))
            if life in (2, 3):
                held.append(len(lives[-1][1]))
        first = seq_floor(agent.outbox) + 1
        agent.start(devices)
        wait_for(
            lambda: agent.status()["sync"]["records_sent"] >= 3000,
            timeout_s=60,
            interval_s=0.1,
            what="the last life syncing",
        )
        run = agent.stop()
        assert run.final is not None
        lives.append((first, set()))
        agent.drain()
        records = central_records(stack.central.database_url, stack.agent_id)
    finally:
        stack.close()

    assert all(n > 0 for n in held), f"no backlog at the kills with central away: {held}"
    stored = records.seqs
    assert len(stored) == len(set(stored)), "a seq stored twice"
    assert records.reading_rows == records.reading_seqs, "a reading stored twice"
    stored_set = set(stored)
    bounds = [first for first, _ in lives] + [run.final["last_seq"] + 1]
    assert stored_set <= set(range(1, bounds[-1])), "central holds a seq the agent never used"
    for i, (first, held_at_kill) in enumerate(lives):
        assert first > (bounds[i - 1] if i else 0)
        life = sorted(s for s in stored_set if first <= s < bounds[i + 1])
        assert life, f"life {i + 1}: nothing of it reached central"
        assert life == list(range(first, life[-1] + 1)), f"life {i + 1}: committed records lost"
        lost = held_at_kill - stored_set
        assert not lost, f"life {i + 1}: {len(lost)} committed records lost after the restart"
    # The last life ended cleanly: everything up to its last seq.
    assert max(stored) == run.final["last_seq"]
