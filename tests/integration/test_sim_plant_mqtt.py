"""A plant with MQTT devices served by ``PlantSimulation`` (what ``hse-sim run`` does): the
publisher starts, says which broker it publishes to, and its messages reach a subscriber."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from device_profiles import Catalog
from simulators.plant import PlantSimulation, build_devices, load_plant, plan_servers
from tests.support.mosquitto import Broker
from tests.support.mqtt_clients import subscriber


@pytest.mark.mosquitto
async def test_an_mqtt_device_is_published_to_its_broker(broker: Broker, tmp_path: Path) -> None:
    plant_file = tmp_path / "plant.yaml"
    plant_file.write_text(
        yaml.safe_dump(
            {
                "plant_id": "p",
                "devices": [{"id": "noise-9", "profile": "gs-noise-mqtt", "url": broker.url}],
            }
        ),
        encoding="utf-8",
    )
    plant, profiles = load_plant(plant_file, Catalog())
    plan = plan_servers(plant, profiles, file=plant_file)
    devices = build_devices(plant, profiles, seed=1)
    async with (
        subscriber(broker.host, broker.port, "plant/noise-9/telemetry") as client,
        PlantSimulation(plan, devices) as sim,
    ):
        assert [endpoint for _, endpoint in sim.endpoints()] == [
            f"mqtt publisher -> mqtt://127.0.0.1:{broker.port}"
        ]
        async with asyncio.timeout(10):
            message = await anext(aiter(client.messages))
    document = json.loads(message.payload)  # type: ignore[arg-type]
    assert 30 <= document["laeq"] <= 130
