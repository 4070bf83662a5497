"""Golden cases: ``tests/cases/<name>/{config.yaml, input.jsonl, expected.jsonl}``.

Each case replays its input (readings, ticks and operator commands at times relative to the
case's ``start``) through a fresh engine and compares every event it emits, in order, with
``expected.jsonl`` (event ids left out; floats to 6 decimals; times relative to ``start``).

After a deliberate change of behaviour, regenerate with ``HSE_UPDATE_GOLDEN=1`` and review the
diff of every expected file line by line before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from device_profiles import LimitSet
from edge_agent.records import EventRecord, ReadingRecord
from edge_agent.rules import RuleEngine, RulePoint, load_rules_config
from protocols.types import Quality

CASES = Path(__file__).resolve().parents[1] / "cases"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "config.yaml").is_file())


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 6)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_round(v) for v in x]
    return x


def project(event: EventRecord, start: float) -> dict[str, Any]:
    return _round(
        {
            "at": event.ts - start,
            "category": event.category.value,
            "kind": event.kind,
            "transition": event.transition,
            "point": event.point,
            "state": event.state,
            "priority": event.priority.value if event.priority else None,
            "value": event.value,
            "limit": event.limit,
            "actor": event.actor,
            "message": event.message,
            "details": dict(event.details),
        }
    )


def replay(case: Path) -> list[dict[str, Any]]:
    config = yaml.safe_load((case / "config.yaml").read_text(encoding="utf-8"))
    start = datetime.fromisoformat(config["start"]).timestamp()
    points = [RulePoint.model_validate(p) for p in config["points"]]
    by_id = {p.point_id: p for p in points}
    engine = RuleEngine(
        points,
        load_rules_config(config.get("rules")),
        LimitSet.model_validate(config["limit_set"]),
        plant_id=config["plant_id"],
    )
    out: list[dict[str, Any]] = []
    for n, line in enumerate((case / "input.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        step = json.loads(line)
        now = start + step["at"]
        if "reading" in step:
            r = step["reading"]
            point = by_id[r["point"]]
            record = ReadingRecord(
                r["point"], point.quantity, point.unit, r["value"], Quality(r["quality"]),
                r["reason"], now, now,
            )  # fmt: skip
            events = engine.process([record], now)
        elif "tick" in step:
            events = engine.tick(now)
        elif "command" in step:
            c = dict(step["command"])
            until = c.pop("until_in_s", None)
            events = engine.command(
                c.pop("action"), now=now, until=None if until is None else now + until, **c
            )
        else:
            raise AssertionError(f"{case.name}/input.jsonl:{n}: unknown step {step}")
        out.extend(project(e, start) for e in events)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_golden_case(name: str) -> None:
    case = CASES / name
    got = replay(case)
    expected_file = case / "expected.jsonl"
    if os.environ.get("HSE_UPDATE_GOLDEN") == "1":
        expected_file.write_text(
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in got), encoding="utf-8"
        )
        pytest.skip(f"wrote {expected_file}; review its diff before committing")
    expected = [json.loads(line) for line in expected_file.read_text(encoding="utf-8").splitlines()]
    for i, (g, e) in enumerate(zip(got, expected, strict=False)):
        assert g == e, f"{name}: event {i + 1} differs"
    assert len(got) == len(expected), f"{name}: {len(got)} events, expected {len(expected)}"


def test_every_case_has_its_three_files() -> None:
    assert set(NAMES) >= {"leak_ramp", "stuck_sensor", "bearing_wear", "loop_fault"}
    for name in NAMES:
        for f in ("config.yaml", "input.jsonl", "expected.jsonl"):
            assert (CASES / name / f).is_file(), f"{name}/{f} is missing"
