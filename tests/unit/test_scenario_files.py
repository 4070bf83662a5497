"""Malformed scenario files are refused with the file, the field path and the bad value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from device_profiles import ProfileError, load_scenario

GOOD_STEP = "{at_s: 10, device: gas-1, point: h2s, signal: {model: ramp, to: 20, over_s: 60}}"
CASES = [
    (
        "misspelt signal field",
        "{at_s: 10, device: gas-1, point: h2s, signal: {model: ramp, to: 20, over: 60}}",
        [("steps[1].signal.over", "60"), ("steps[1].signal.over_s", "missing")],
    ),
    (
        "unknown signal model",
        "{at_s: 10, device: gas-1, point: h2s, signal: {model: sawtooth}}",
        [("steps[1].signal", "sawtooth")],
    ),
    (
        "unknown device action",
        "{at_s: 10, device: gas-1, action: ofline}",
        [("steps[1].action", "'ofline'")],
    ),
    ("steps out of order", "{at_s: 5, device: gas-1, action: offline}", [("steps[1].at_s", "5.0")]),
    ("negative time", "{at_s: -1, device: gas-1, action: offline}", [("steps[1].at_s", "-1")]),
]


@pytest.mark.parametrize(("step", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_scenario_names_file_field_and_value(
    tmp_path: Path, step: str, expected: list[tuple[str, str]]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"id: bad\nsteps:\n  - {GOOD_STEP}\n  - {step}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + len(expected), lines  # one problem each, not one per step shape
    for field, value in expected:
        named = re.compile(re.escape(f"{path}: {field}") + r"[ :]")
        assert any(named.search(ln) and value in ln for ln in lines), (field, lines)


def test_a_good_scenario_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(
        f"id: good\nsteps:\n  - {GOOD_STEP}\n  - {{at_s: 20, device: gas-1, action: offline}}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert [type(s).__name__ for s in scenario.steps] == ["SignalStep", "DeviceStep"]
