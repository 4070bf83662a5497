"""``hse-edge probe``: a field engineer's first read of a device, as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port, wait_port
from tests.support.procs import Child, python_env


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "probe", *args],
        capture_output=True, text=True, timeout=60, env=python_env(),
    )  # fmt: skip


@pytest.fixture
def modbus_sim(tmp_path: Path) -> str:
    port = free_port()
    sim = Child.python(
        "simulators.modbus_server", "--profile", "gd-h2s-mb", "--unit-id", "3", "--port", str(port),
        log=tmp_path / "sim.log",
    )  # fmt: skip
    try:
        wait_port(port, timeout_s=20)
        yield f"modbus+tcp://127.0.0.1:{port}"
    finally:
        sim.stop()


def test_probe_prints_every_point_decoded(modbus_sim: str) -> None:
    result = probe(modbus_sim, "--profile", "gd-h2s-mb", "--unit-id", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["point", "value", "unit", "quality", "reason", "raw"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"h2s", "loop_ma", "status", "fault"}
    assert rows["h2s"][2:4] == ["ppm", "good"]
    assert 0.0 <= float(rows["h2s"][1]) <= 1.0  # the profile's clean-air signal, 0.3 ± noise


def test_probe_json_is_one_document_with_raw_registers(modbus_sim: str) -> None:
    result = probe(modbus_sim, "--profile", "gd-h2s-mb", "--unit-id", "3", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    points = {p["point"]: p for p in doc["points"]}
    assert points["h2s"]["quality"] == "good"
    assert len(points["h2s"]["raw"]) == 2  # a float32: two registers


def test_wrong_unit_id_is_a_clear_failure(modbus_sim: str) -> None:
    result = probe(modbus_sim, "--profile", "gd-h2s-mb", "--unit-id", "9", "--timeout", "0.5")
    assert result.returncode == 3
    assert "probe failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_device_that_does_not_answer_is_a_clear_failure() -> None:
    url = f"modbus+tcp://127.0.0.1:{free_port()}"
    result = probe(url, "--profile", "gd-h2s-mb", "--timeout", "0.5")
    assert result.returncode == 3
    assert result.stderr.strip() == f"probe failed: {url}: cannot connect (refused or unreachable)"


def test_unknown_profile_and_unknown_scheme_are_config_errors() -> None:
    result = probe("modbus+tcp://127.0.0.1:1", "--profile", "gd-nope")
    assert result.returncode == 2
    assert "unknown profile 'gd-nope'" in result.stderr
    result = probe("modbus+udp://127.0.0.1:1", "--profile", "gd-h2s-mb")
    assert result.returncode == 2
    assert "no driver for scheme 'modbus+udp'" in result.stderr
