"""``hse-edge check-config`` and ``hse-edge run`` refuse bad plant configs with the same message,
naming the file, the field path, the value and what was expected."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.cli import EXIT_CONFIG, main

GOOD: dict[str, Any] = {
    "plant_id": "p1",
    "agent_id": "a1",
    "limit_set": "cn-gbz-2019",
    "devices": [
        {"id": "gas-1", "profile": "gd-h2s-mb", "url": "modbus+tcp://127.0.0.1:1502", "unit_id": 1, "zone": "zone-a"},
        {"id": "pt-1", "profile": "gi-pt-mb", "url": "modbus+tcp://127.0.0.1:1502", "unit_id": 2},
    ],
    "plcs": [{"id": "plc-1", "profile": "plc-safety-mb", "url": "modbus+tcp://127.0.0.1:1503"}],
    "interlocks": {
        "outputs": [{"plc": "plc-1", "point": "fan_run", "safe": 1}],
        "rules": [{"id": "vent", "when": {"alarm": "p1/gas-1/h2s:hh"},
                   "then": {"plc": "plc-1", "point": "fan_run", "value": 1}}],
    },
}  # fmt: skip


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_good_config_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(write(tmp_path, GOOD))]) == 0
    assert "OK: plant p1, 2 device(s)" in capsys.readouterr().out


def mutate(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    node: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    last = keys[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


CASES = [
    ("devices.0.profile", "gd-nope", "devices[0].profile = 'gd-nope': unknown profile"),
    (
        "devices.0.url",
        "modbus+udp://x:1",
        "devices[0].url = 'modbus+udp://x:1': no driver for scheme 'modbus+udp'",
    ),
    ("devices.1.timeout_s", 5.0, "timeout_s"),
    ("limit_set", "mars-2100", "limit_set = 'mars-2100': unknown limit set"),
    (
        "interlocks.rules.0.when",
        {"alarm": "p1/nope/h2s:hh"},
        "interlocks.rules[0].when = 'p1/nope/h2s:hh': names no point",
    ),
    (
        "interlocks.rules.0.then",
        {"plc": "plc-1", "point": "beacon", "value": 1},
        "is not listed in interlocks.outputs",
    ),
    ("interlocks.outputs.0.point", "fan_speed", "PLC 'plc-1' has no such point"),
    (
        "rules",
        {"points": {"gas-1/h2s": {"alarms": {"h": {"value": 20.0}}}}},
        "rules.points.gas-1/h2s.alarms",
    ),
    ("rules", {"points": {"gas-1/h2s": {"alarms": {"deadband": 9.0}}}}, "deadband"),
    ("rules", {"points": {"gas-1/h2s": {"alarms": {"hh": {"value": 500.0}}}}}, "range"),
    ("rules", {"points": {"gas-9/h2s": {"alarms": {"on_delay_s": 1}}}}, "gas-9/h2s"),
    (
        "devices.0.points",
        {"h2s": {"alarms": {"h": {"value": 120.0}}}},
        "outside the measuring range",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), CASES, ids=[c[0] + "=" + str(c[1])[:20] for c in CASES]
)
def test_bad_config_is_refused_by_check_config_and_by_run_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, value: Any, expected: str
) -> None:
    file = write(tmp_path, mutate(path, value))
    assert main(["check-config", str(file)]) == EXIT_CONFIG
    checked = capsys.readouterr().err
    assert str(file) in checked
    assert expected in checked
    assert main(["run", "--config", str(file)]) == EXIT_CONFIG
    assert capsys.readouterr().err == checked


def test_yaml_syntax_error_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "plant.yaml"
    file.write_text("plant_id: p1\ndevices: [\n  {id: x\n", encoding="utf-8")
    assert main(["check-config", str(file)]) == EXIT_CONFIG
    assert "line" in capsys.readouterr().err


def test_secrets_are_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = mutate("central", {"url": "https://central.example", "token": "s3cret-token-value"})
    data["devices"][0]["profile"] = "gd-nope"
    assert main(["check-config", str(write(tmp_path, data))]) == EXIT_CONFIG
    assert "s3cret-token-value" not in capsys.readouterr().err
