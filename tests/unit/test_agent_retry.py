"""How long the agent waits between tries while central is away: ``central.retry_max_s``.

With the sync client's own cap (60 s) an agent could sit out most of a minute after central came
back before it tried again, and its backlog waited with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from edge_agent.agent import Agent
from edge_agent.config import ConfigError, load_config
from edge_agent.plant import resolve_plant
from tests.support.ports import free_port


def plant_file(tmp_path: Path, **central: object) -> Path:
    path = tmp_path / "plant.yaml"
    config = {
        "plant_id": "p",
        "agent_id": "a",
        "central": {"url": f"http://127.0.0.1:{free_port()}", **central},
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "status": {"enabled": False},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_the_agent_retries_central_at_least_every_retry_max_s(tmp_path: Path) -> None:
    path = plant_file(tmp_path)
    assert load_config(path).central.retry_max_s == 2.0
    plant = resolve_plant(load_config(plant_file(tmp_path, retry_max_s=2.5)))
    async with Agent(plant, token=SecretStr("t")) as agent:
        assert agent.sync is not None
        assert agent.sync._backoff_max_s == 2.5


def test_retry_max_s_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"central\.retry_max_s"):
        load_config(plant_file(tmp_path, retry_max_s=0))
