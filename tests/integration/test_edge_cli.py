"""``hse-edge`` as the field engineer uses it: run, status, alarms, and a clean SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.ports import free_port, wait_port
from tests.support.procs import Child, python_env


def hse_edge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=python_env(env),
    )


@pytest.mark.parametrize("sub", [[], ["run"], ["check-config"], ["status"], ["probe"], ["alarms"]])
def test_every_command_has_help(sub: list[str]) -> None:
    result = hse_edge(*sub, "--help")
    assert result.returncode == 0
    assert "usage: hse-edge" in result.stdout


@dataclass
class Running:
    agent: Child
    status_url: str
    outbox: Path


@pytest.fixture
def running_agent(tmp_path: Path) -> Iterator[Running]:
    gas_port, status_port = free_port(), free_port()
    config = {
        "plant_id": "plant-c",
        "agent_id": "agent-c",
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "status": {"port": status_port},
        "devices": [{"id": "gas-1", "profile": "gd-h2s-mb", "unit_id": 1, "url": f"modbus+tcp://127.0.0.1:{gas_port}",
                     "poll_interval_s": 0.2, "timeout_s": 0.15}],
    }  # fmt: skip
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    gas = Child.python("simulators.modbus_server", "--profile", "gd-h2s-mb", "--unit-id", "1", "--port", str(gas_port),
                       log=tmp_path / "gas.log")  # fmt: skip
    agent = None
    try:
        wait_port(gas_port, 20)
        agent = Child.python("edge_agent", "run", "--config", str(path), log=tmp_path / "agent.log")
        wait_port(status_port, 30)
        yield Running(agent, f"http://127.0.0.1:{status_port}", tmp_path / "outbox.db")
    finally:
        if agent is not None:
            agent.stop()
        gas.stop()


def test_status_and_alarms_against_a_running_agent_then_a_clean_sigterm(
    running_agent: Running,
) -> None:
    deadline = time.monotonic() + 20
    while True:
        result = hse_edge("status", "--url", running_agent.status_url, "--json")
        assert result.returncode == 0, result.stderr
        status = json.loads(result.stdout)
        if status["devices"] and status["devices"][0]["polls"] >= 5:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    table = hse_edge("status", "--url", running_agent.status_url)
    assert table.returncode == 0
    assert "gas-1" in table.stdout
    assert " up " in table.stdout
    alarms = hse_edge("alarms", "--url", running_agent.status_url)
    assert alarms.returncode == 0
    assert "(no alarm away from normal)" in alarms.stdout
    refused = hse_edge("alarms", "ack", "plant-c/gas-1/h2s:hh", "--url", running_agent.status_url,
                       env={"HSE_EDGE_OPERATOR_TOKEN": ""})  # fmt: skip
    assert refused.returncode == 2
    assert "operator token" in refused.stderr

    readings_seen = status["pipeline"]["readings_out"]
    running_agent.agent.proc.send_signal(signal.SIGTERM)
    assert running_agent.agent.proc.wait(timeout=20) == 0
    assert "agent stopped" in running_agent.agent.output()
    # Everything normalized before the signal is committed in the outbox.
    with sqlite3.connect(running_agent.outbox) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        reading_table = next(t for t in tables if "reading" in t and "agg" not in t)
        stored = db.execute(f"SELECT count(*) FROM {reading_table}").fetchone()[0]  # noqa: S608
    assert stored >= readings_seen


def test_unreachable_status_endpoint_is_a_clear_error() -> None:
    result = hse_edge("status", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "1")
    assert result.returncode == 3
    assert "cannot reach the agent's status endpoint" in result.stderr
