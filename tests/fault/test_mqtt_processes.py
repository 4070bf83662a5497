"""The MQTT simulator processes: the publisher and the embedded broker, stopped and restarted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from protocols import Quality, Timeouts
from protocols.mqtt import MqttPoint, PayloadFormat
from protocols.mqtt.driver import MqttDriver
from tests.support.mosquitto import Broker
from tests.support.mqtt_clients import Collector, publish
from tests.support.ports import free_port, wait_port
from tests.support.procs import Child
from tests.support.sim_devices import MQTT_PROFILE, write_profile

pytestmark = pytest.mark.slow
TIMEOUTS = Timeouts(connect_s=3.0, io_s=1.0)
POINTS = [
    MqttPoint(key="pm10", topic="site/dust-9/dust", field="data.pm10", timestamp_field="ts"),
    MqttPoint(key="laeq", topic="site/dust-9/noise", payload=PayloadFormat.NUMBER),
]


def driver_for(url: str) -> MqttDriver:
    return MqttDriver.from_url(
        url,
        timeouts=TIMEOUTS,
        client_id="process-test",
        reconnect_initial_s=0.1,
        reconnect_max_s=0.5,
        keepalive_s=5,
    )


@pytest.mark.mosquitto
async def test_publisher_process_survives_a_broker_restart(broker: Broker, tmp_path: Path) -> None:
    write_profile(tmp_path / "profiles", MQTT_PROFILE)
    publisher = Child.python(
        "simulators.mqtt_publisher",
        "--profile",
        "test-dust-mqtt",
        "--profile-dir",
        str(tmp_path / "profiles"),
        "--device-id",
        "dust-9",
        "--broker",
        broker.url,
        "--interval-s",
        "0.1",
        log=tmp_path / "publisher.log",
    )
    driver = driver_for(broker.url)
    collector = Collector(driver.stream())
    try:
        await driver.subscribe(POINTS)
        await driver.connect()
        await collector.wait_for(
            lambda s: s.key == "pm10" and s.quality is Quality.GOOD, timeout_s=20
        )

        await asyncio.to_thread(broker.stop)
        await collector.wait_for(lambda s: s.reason == "mqtt.disconnected", count=2)
        mark = len(collector.samples)
        await asyncio.to_thread(broker.start)

        # both the publisher process and the driver come back by themselves
        fresh = await collector.wait_for(
            lambda s: (
                s.key == "laeq" and s.quality is Quality.GOOD and collector.samples.index(s) >= mark
            ),
            timeout_s=20,
        )
        assert fresh[0].value == pytest.approx(71.5)
        assert publisher.alive()
    finally:
        await driver.close()
        await collector.stop()
        publisher.stop()
    assert "Traceback" not in publisher.log_path.read_text()


async def test_embedded_broker_process_killed_and_restarted(tmp_path: Path) -> None:
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    broker = Child.python("simulators.mqtt_broker", "--port", str(port), log=tmp_path / "b1.log")
    driver = driver_for(url)
    collector = Collector(driver.stream())
    try:
        await asyncio.to_thread(wait_port, port, 20.0)
        await driver.subscribe(POINTS)
        await driver.connect()
        await publish("127.0.0.1", port, [("site/dust-9/noise", b"70.0")])
        await collector.wait_for(lambda s: s.value == 70.0)

        broker.kill()
        broker.stop()
        await collector.wait_for(lambda s: s.reason == "mqtt.disconnected", count=2)
        broker = Child.python(
            "simulators.mqtt_broker", "--port", str(port), log=tmp_path / "b2.log"
        )
        await asyncio.to_thread(wait_port, port, 20.0)
        async with asyncio.timeout(15):
            while not driver.statistics().connected:
                await asyncio.sleep(0.05)
        await publish("127.0.0.1", port, [("site/dust-9/noise", b"72.0")])
        await collector.wait_for(lambda s: s.value == 72.0)
        assert driver.statistics().reconnects == 1
    finally:
        await driver.close()
        await collector.stop()
        broker.stop()
