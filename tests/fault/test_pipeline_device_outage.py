"""A device that disappears and comes back: its simulator process SIGKILLed, then started again
on the same port. Central shows the gap as bad readings with a reason (never invented values),
a communication fault raised and cleared, the device down and then up again in the agent's
heartbeat, and good readings after; the other device never notices."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.central import sqlite_url
from tests.support.ports import free_port
from tests.support.procs import wait_for
from tests.support.stack import ConstPoint, Stack, device, parse_ts, profile

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PLANT = "e2e-plant"
FLAKY = f"{PLANT}/pt-1/pressure"
STEADY = f"{PLANT}/gas-1/h2s"
PROFILES = [
    profile("e2e-pt-mb", "modbus", [ConstPoint("pressure", "pressure", "bar", (0, 16), 6.5)]),
    profile("e2e-h2s-mb", "modbus", [ConstPoint("h2s", "gas.h2s", "ppm", (0, 100), 2.5)]),
]


def test_a_device_gone_and_back_shows_as_bad_readings_a_fault_and_its_health(
    tmp_path: Path,
) -> None:
    # The driver retries a lost device every second at most, so it is back soon after.
    fast = {"options": {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0}}
    flaky = device(
        "pt-1", "e2e-pt-mb", f"modbus+tcp://127.0.0.1:{free_port()}", poll_s=0.25, **fast
    )
    steady = device("gas-1", "e2e-h2s-mb", f"modbus+tcp://127.0.0.1:{free_port()}", poll_s=0.25)
    stack = Stack(tmp_path, sqlite_url(tmp_path), profiles=PROFILES)
    try:
        stack.start_central()
        flaky_sim = stack.simulators("flaky", [flaky])
        stack.simulators("steady", [steady])
        start = time.time()
        stack.agent.start([flaky, steady])
        api = stack.central.api()

        def latest(point: str) -> dict[str, Any]:
            """The point's newest value at central ({} until its metadata and values arrive)."""
            return next((p for p in api.latest(PLANT) if p["point"] == point), {})

        def devices_down() -> list[str]:
            return list(api.plant_status(PLANT)["agents"][0]["devices_down"])

        wait_for(lambda: latest(FLAKY).get("quality") == "good", 60, 0.2, "good readings first")
        flaky_sim.stop(kill=True)
        gone = time.time()
        wait_for(lambda: latest(FLAKY).get("quality") == "bad", 30, 0.2, "bad readings at central")
        wait_for(lambda: devices_down() == ["pt-1"], 30, 0.2, "the device down in the heartbeat")
        down_status = api.plant_status(PLANT)
        flaky_sim.start()
        back = time.time()
        wait_for(lambda: latest(FLAKY).get("quality") == "good", 60, 0.2, "good readings again")
        wait_for(lambda: devices_down() == [], 30, 0.2, "the device up in the heartbeat")
        time.sleep(1.0)  # a few more good polls
        end = time.time() + 1
        flaky_rows = api.readings(FLAKY, start, end)
        steady_rows = api.readings(STEADY, start, end)
        faults = api.events(PLANT, point=FLAKY, category="fault")
        api.close()
    finally:
        stack.close()

    assert down_status["status"] == "devices_down"
    assert down_status["devices_down"] == 1

    # good, then bad for the gap (no value, a reason), then good again: nothing else
    states = [r["quality"] for r in flaky_rows]
    first_bad, last_bad = states.index("bad"), len(states) - 1 - states[::-1].index("bad")
    assert set(states[:first_bad]) == {"good"}
    assert set(states[first_bad : last_bad + 1]) == {"bad"}
    assert set(states[last_bad + 1 :]) == {"good"}
    assert len(states) - last_bad - 1 >= 2
    gap = flaky_rows[first_bad : last_bad + 1]
    assert all(r["value"] is None and r["reason"] for r in gap)
    reasons = {r["reason"] for r in gap}
    assert all(r.startswith(("comm.", "modbus.")) for r in reasons), reasons
    assert parse_ts(flaky_rows[first_bad - 1]["ts"]) <= gone <= parse_ts(gap[0]["ts"])
    assert parse_ts(flaky_rows[last_bad + 1]["ts"]) >= back  # nothing good while it was gone
    assert {r["value"] for r in flaky_rows if r["quality"] == "good"} == {650.0}

    assert [(e["kind"], e["transition"]) for e in reversed(faults)] == [
        ("fault.comm", "raise"),
        ("fault.comm", "clear"),
    ]
    assert {(r["quality"], r["value"]) for r in steady_rows} == {("good", 2.5)}
