"""Every example plant config in config/ is one the agent accepts, with rules and interlocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.plant import resolve_plant

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted([*REPO.glob("config/*.yaml"), *REPO.glob("config/plants/*.yaml")])


def test_there_are_example_configs() -> None:
    assert {p.stem for p in CONFIGS} >= {"demo-plant", "chemical-plant", "construction-site"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_example_config_resolves(path: Path) -> None:
    plant = resolve_plant(load_config(path, env={}), file=str(path))
    assert plant.devices
    assert plant.plcs, "every example shows interlocks to a safety PLC"
    cfg = plant.config.interlocks
    assert cfg.rules
    assert cfg.heartbeat is not None
    allowed = {(o.plc, o.point) for o in cfg.outputs}
    assert all((r.then.plc, r.then.point) in allowed for r in cfg.rules)
