"""Central SIGKILLed for a minute while an agent polls ~1,000 readings/s, then started again on
the same port: the agent keeps everything, drains its backlog behind live data, and central ends
up with every record exactly once, on SQLite and on PostgreSQL alike (the same 60 s outage).

"Everything": the agent's closing figures (``readings_out`` and ``last_seq``, exact after a clean
stop) against central's ledger, whose seqs must be exactly 1..last_seq.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.central import database_url_for
from tests.support.procs import wait_for
from tests.support.stack import (
    LOAD_POINTS_PER_UNIT,
    Stack,
    central_records,
    load_devices,
    load_profile,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
READINGS_PER_S = 1000
OUTAGE_S = 60.0
CASES = [
    pytest.param("sqlite", id="sqlite-60s"),
    pytest.param("postgres", id="postgres-60s", marks=pytest.mark.postgres),
]


def backlog(status: dict[str, object]) -> int:
    outbox = status["outbox"]
    assert isinstance(outbox, dict)
    return int(sum(outbox["backlog_records"].values()))


@pytest.mark.parametrize("database", CASES)
def test_central_down_under_load_loses_nothing_duplicates_nothing_and_drains(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    stack = Stack(
        tmp_path, database_url_for(database, request, tmp_path), profiles=[load_profile()]
    )
    devices = load_devices(READINGS_PER_S, poll_s=0.5)
    try:
        stack.start_central()
        stack.simulators("load", devices)
        agent = stack.agent
        agent.start(devices, central={"retry_max_s": 5.0})
        wait_for(
            lambda: agent.status()["sync"]["records_sent"] >= 2 * READINGS_PER_S,
            timeout_s=60,
            interval_s=0.2,
            what="the agent syncing",
        )

        stack.central.stop(kill=True)
        down_at = time.monotonic()
        early = agent.status()
        while time.monotonic() - down_at < OUTAGE_S:
            time.sleep(1.0)
            assert agent.child is not None
            assert agent.child.alive(), "the agent died"
        late = agent.status()
        stack.central.start()
        back_at = time.time()

        # The backlog (everything older than central's return) drains while live data flows.
        wait_for(
            lambda: (agent.status()["outbox"]["oldest_unsent_ts"] or back_at + 1) > back_at,
            timeout_s=180,
            interval_s=0.2,
            what="the backlog drained",
        )
        wait_for(
            lambda: backlog(agent.status()) <= READINGS_PER_S,
            timeout_s=60,
            interval_s=0.2,
            what="the outbox back to about a second of live data",
        )
        api = stack.central.api()
        # ... and central sees it too, in the health every batch carries.
        wait_for(
            lambda: (
                api.plant_status(stack.plant_id)["agents"][0]["backlog_records"] <= READINGS_PER_S
            ),
            timeout_s=30,
            interval_s=0.2,
            what="central seeing the agent caught up",
        )
        run = agent.stop()
        agent.drain()
        records = central_records(stack.central.database_url, stack.agent_id)
        point = f"{stack.plant_id}/{devices[0]['id']}/ch07"
        sample_point = api.readings(point, 0, time.time() + 60)
        api.close()
    finally:
        stack.close()

    # During the outage the agent failed over to buffering, and kept polling.
    assert late["sync"]["state"] == "backoff"
    assert late["sync"]["failures"] > early["sync"]["failures"]
    assert backlog(late) > backlog(early) + READINGS_PER_S
    assert late["pipeline"]["readings_out"] > early["pipeline"]["readings_out"]

    assert run.final is not None
    produced, last_seq = run.final["readings_out"], run.final["last_seq"]
    assert produced >= OUTAGE_S * READINGS_PER_S * 0.5, "the agent did not keep polling"
    assert records.seqs == list(range(1, last_seq + 1)), "a record lost or stored twice"
    assert records.reading_rows == records.reading_seqs == produced
    polls = run.final["polls"]
    assert produced == sum(polls.values()) * LOAD_POINTS_PER_UNIT
    assert len(sample_point) == polls[devices[0]["id"]]
