"""Simulators -> agent -> central as the separate processes of a deployment, on real sockets.

Devices over Modbus TCP, OPC UA and MQTT (through a mosquitto started here) report constant
values; the agent polls them for a few seconds and is stopped with SIGTERM (it commits what it
buffered), then started again with the same outbox and no devices, so it drains. Central (SQLite,
and PostgreSQL when available) must then hold every reading the agent produced, exactly once,
with the right value in the right unit, quality good and a source time inside the run.

What "produced" means: the agent's closing log line gives its pipeline's ``readings_out`` and the
last seq it handed out, after its pipeline drained and its outbox committed (so, exact); every
record gets one seq from one counter, so the seqs central holds must be exactly 1..last_seq.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.central import database_url_for
from tests.support.procs import wait_for
from tests.support.stack import Stack, central_records, outbox_contents, parse_ts

from .plant import EXPECTED, PLANT, PROFILES, devices

pytestmark = [pytest.mark.e2e, pytest.mark.mosquitto, pytest.mark.slow]
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
MIN_READINGS_PER_POINT = 8


@pytest.mark.parametrize("database", DATABASES)
def test_every_reading_arrives_once_with_its_value_unit_quality_and_time(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    stack = Stack(tmp_path, database_url_for(database, request, tmp_path), profiles=PROFILES)
    try:
        stack.start_central()
        plant_devices = devices(stack.broker().url)
        stack.simulators("field", plant_devices)
        window_start = time.time()
        stack.agent.start(plant_devices)

        def every_device_reported() -> bool:
            status = stack.agent.status()
            return all(d["good_samples"] >= 2 * MIN_READINGS_PER_POINT for d in status["devices"])

        wait_for(every_device_reported, timeout_s=60, interval_s=0.2, what="every device polled")
        run = stack.agent.stop()  # SIGTERM: stops polling, commits the buffer
        window_end = time.time()
        assert run.final is not None
        left = outbox_contents(stack.agent.outbox)
        api = stack.central.api()
        before_drain = Counter(
            {e.point: len(api.readings(e.point, window_start, window_end)) for e in EXPECTED}
        )
        stack.agent.drain()

        produced = run.final["readings_out"]
        stored = {e.point: api.readings(e.point, window_start, window_end) for e in EXPECTED}
        units = {p["point"]: p["unit"] for p in api.points(PLANT)}
        events = api.events(PLANT)
        records = central_records(stack.central.database_url, stack.agent_id)
        api.close()
    finally:
        stack.close()

    # Counts: what the agent produced, all of it, once; what was left in the outbox at SIGTERM
    # is what the drain delivered.
    assert sum(len(rows) for rows in stored.values()) == produced
    assert records.reading_rows == records.reading_seqs == produced
    assert records.seqs == list(range(1, run.final["last_seq"] + 1)), "a seq missing or doubled"
    assert len(events) == run.final["events_written"] == 0  # a healthy plant raises nothing
    assert before_drain + left.readings == Counter({p: len(r) for p, r in stored.items()})
    polls = run.final["polls"]
    for device_id in ("pt-1", "gas-1", "vib-1"):  # polled: one reading per point per poll
        for e in EXPECTED:
            if e.point.split("/")[1] == device_id:
                assert len(stored[e.point]) == polls[device_id], e.point
    assert len(stored[f"{PLANT}/env-1/laeq"]) == len(stored[f"{PLANT}/env-1/pm10"])

    # Each reading: its value in the canonical unit, good, timed inside the run, once per time.
    for e in EXPECTED:
        rows = stored[e.point]
        assert len(rows) >= MIN_READINGS_PER_POINT, e.point
        assert units[e.point] == e.unit
        values = [r["value"] for r in rows]
        assert values == pytest.approx([e.value] * len(rows), rel=1e-9), e.point
        assert {(r["quality"], r["reason"]) for r in rows} == {("good", None)}, e.point
        times = [parse_ts(r["ts"]) for r in rows]
        assert all(window_start <= t <= window_end for t in times), e.point
        assert len(set(times)) == len(times), f"{e.point}: a reading stored twice"
