"""``hse-sim demo`` as a user runs it: one command brings up central, a broker, the demo plant's
simulators and an agent; within a minute central has readings of every sensor family and an
alarm; Ctrl-C (SIGINT) stops every process it started and it exits 0."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.support.procs import Child, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FAMILIES = ("gas", "pressure", "noise", "dust", "vibration")
PID_LINE = re.compile(r"^  (central|broker|simulators|agent)\s+pid (\d+)", re.MULTILINE)


def gone(pid: int) -> bool:
    """No process with this id, nor any left in its process group."""
    for probe in (os.kill, os.killpg):
        try:
            probe(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


def test_demo_brings_the_platform_up_and_ctrl_c_takes_it_all_down(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = Child.python(
        "simulators", "demo", "--data-dir", str(data), "--free-ports", log=tmp_path / "demo.log"
    )
    pids: dict[str, int] = {}
    try:
        wait_for(
            lambda: "hse-sim demo: ready" in demo.output() or not demo.alive(),
            timeout_s=120,
            interval_s=0.2,
            what="the demo ready",
        )
        ready_at = time.monotonic()
        output = demo.output()
        assert demo.alive(), output
        pids = {name: int(pid) for name, pid in PID_LINE.findall(output)}
        assert set(pids) == {"central", "broker", "simulators", "agent"}, output
        api = re.search(r"API docs:\s+(http://\S+)/api/v1/docs", output)
        login = re.search(r"login:\s+(\S+) / (\S+)", output)
        assert api is not None
        assert login is not None
        for secret in ("admin-password", "agent.token"):
            assert stat.S_IMODE((data / secret).stat().st_mode) == 0o600, secret

        with httpx.Client(base_url=api.group(1), timeout=10, trust_env=False) as client:
            r = client.post(
                "/api/v1/auth/token",
                data={"username": login.group(1), "password": login.group(2)},
            )
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

            def families_seen() -> set[str]:
                r = client.get("/api/v1/plants/demo-plant/latest")
                if r.status_code != 200:
                    return set()
                return {
                    p["quantity"].split(".")[0]
                    for p in r.json()["points"]
                    if p["value"] is not None
                }

            def alarms() -> list[dict[str, object]]:
                r = client.get(
                    "/api/v1/events", params={"plant": "demo-plant", "category": "alarm"}
                )
                return list(r.json()["events"]) if r.status_code == 200 else []

            # The scenario raises gas, noise and vibration alarms within its first minute.
            wait_for(lambda: set(FAMILIES) <= families_seen(), 60, 0.5, "every family at central")
            wait_for(alarms, 60 - (time.monotonic() - ready_at), 0.5, "an alarm at central")

        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(timeout=90) == 0, demo.output()
        assert "hse-sim demo: stopped" in demo.output()
        still_running = [name for name, pid in pids.items() if not gone(pid)]
        assert not still_running, f"left running after Ctrl-C: {still_running}"
    finally:
        demo.stop(timeout_s=60)
        for pid in pids.values():  # whatever a failed run left behind, by its own group id
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
