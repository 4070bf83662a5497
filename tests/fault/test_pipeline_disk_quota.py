"""A long central outage against a small outbox quota (1 MiB): the agent thins its oldest
readings into per-minute aggregates to stay within it, keeps every alarm event, and says so.

After central returns and the agent has drained, central must account for every reading the
agent produced: stored raw, or inside an aggregate it holds, or counted by a Gap as dropped, and
the Gap records must say how many readings were aggregated. Every event the agent wrote is there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.outbox import REASON_AGGREGATED, REASON_DROPPED
from tests.support.central import sqlite_url
from tests.support.ports import free_port
from tests.support.procs import wait_for
from tests.support.stack import (
    ConstPoint,
    Stack,
    central_records,
    device,
    load_devices,
    load_profile,
    outbox_contents,
    profile,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
QUOTA_BYTES = 1 << 20
# An H2S detector whose gas comes and goes every 4 s: H and HH alarms (and the exposure ceiling)
# raise and clear all through the outage, so events keep arriving while the quota is short.
EPISODIC = profile(
    "e2e-episodic-mb",
    "modbus",
    [
        ConstPoint(
            "h2s", "gas.h2s", "ppm", (0, 100), 1.0,
            simulate={"model": "episodes", "base": 1.0, "peak": 20.0, "every_s": 4.0, "duration_s": 2.0},
            alarms={"h": {"value": 10.0}, "hh": {"value": 15.0}, "deadband": 1.0},
        )
    ],
)  # fmt: skip


def test_quota_reached_in_an_outage_keeps_events_and_reports_what_it_thinned(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, sqlite_url(tmp_path), profiles=[load_profile(), EPISODIC])
    devices = [
        *load_devices(1000, poll_s=0.5),
        device("gas-9", "e2e-episodic-mb", f"modbus+tcp://127.0.0.1:{free_port()}", poll_s=0.25),
    ]
    try:
        stack.start_central()
        stack.simulators("load", devices)
        agent = stack.agent
        agent.start(devices, outbox={"quota_bytes": QUOTA_BYTES})
        wait_for(lambda: agent.status()["sync"]["records_sent"] >= 1000, 60, 0.2, "syncing")
        stack.central.stop(kill=True)
        events_before = agent.status()["outbox"]["backlog_records"]["events"]

        wait_for(
            lambda: agent.status()["outbox"]["degraded_readings"] > 0,
            timeout_s=180,
            interval_s=0.5,
            what="the quota thinning readings",
        )
        during = agent.status()["outbox"]
        run = agent.stop()  # still in the outage: the file holds the whole backlog
        held = outbox_contents(agent.outbox)
        stack.central.start()
        agent.drain()
        api = stack.central.api()
        gaps = api.gaps(stack.plant_id)
        events = api.events(stack.plant_id)
        plant = api.plant_status(stack.plant_id)
        api.close()
        records = central_records(stack.central.database_url, stack.agent_id)
    finally:
        stack.close()

    assert run.final is not None
    final = run.final
    # The outbox kept to its quota by thinning; events piled up meanwhile and were all kept.
    assert during["bytes_used"] <= QUOTA_BYTES
    assert not during["over_quota"]
    assert held.kinds["event"] > events_before
    assert held.aggregate_seqs, "no aggregate in the outbox after thinning"
    assert final["degraded_readings"] > 0

    # Degradation reported: the Gap records and the aggregates are at central.
    aggregated = [g for g in gaps if g["reason"] == REASON_AGGREGATED]
    dropped = [g for g in gaps if g["reason"] == REASON_DROPPED]
    assert aggregated
    assert sum(g["count"] for g in aggregated) == final["degraded_readings"]
    assert sum(g["count"] for g in dropped) == final["dropped_readings"]
    assert records.gaps == len(gaps) > 0
    assert records.aggregates > 0
    assert plant["agents"][0]["gaps_total"] == len(gaps)

    # Nothing silently dropped: every reading produced is at central raw, in an aggregate, or
    # counted as dropped by a gap.
    assert records.reading_rows == records.reading_seqs
    accounted = records.reading_rows + records.aggregate_count + final["dropped_readings"]
    assert accounted == final["readings_out"]
    # Every event kept.
    assert len(events) == records.events == final["events_written"]
    assert set(held.seqs) <= set(records.seqs)
