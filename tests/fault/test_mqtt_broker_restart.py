"""The mosquitto process stops and starts again (same port) under a running MqttDriver."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from protocols import Quality, Timeouts
from protocols.mqtt import MqttPoint
from protocols.mqtt.driver import MqttDriver
from tests.support.mosquitto import Broker
from tests.support.mqtt_clients import Collector, publish

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
TIMEOUTS = Timeouts(connect_s=3.0, io_s=1.0)


def message(value: float) -> bytes:
    return json.dumps({"data": {"v": value}}).encode()


async def test_driver_reconnects_and_resubscribes_after_a_broker_restart(broker: Broker) -> None:
    topic = f"{uuid.uuid4().hex[:8]}/sensor"
    points = [MqttPoint(key="v", topic=topic, field="data.v")]
    # clean session: a restarted non-persistent broker has forgotten us; only re-subscribing helps
    driver = MqttDriver.from_url(
        broker.url,
        timeouts=TIMEOUTS,
        client_id="restart-test",
        clean_session=True,
        reconnect_initial_s=0.1,
        reconnect_max_s=0.5,
        keepalive_s=5,
    )
    collector = Collector(driver.stream())
    try:
        await driver.subscribe(points)
        await driver.connect()
        await publish(broker.host, broker.port, [(topic, message(1.0))])
        await collector.wait_for(lambda s: s.value == 1.0)

        await asyncio.to_thread(broker.stop)
        (lost,) = await collector.wait_for(lambda s: s.quality is Quality.BAD)
        assert (lost.key, lost.value, lost.reason) == ("v", None, "mqtt.disconnected")
        assert driver.statistics().connected is False

        await asyncio.to_thread(broker.start)
        async with asyncio.timeout(15):
            while not driver.statistics().connected:
                await asyncio.sleep(0.05)
        await publish(broker.host, broker.port, [(topic, message(2.0))])
        (back,) = await collector.wait_for(lambda s: s.value == 2.0)
        assert back.quality is Quality.GOOD
        stats = driver.statistics()
        assert stats.reconnects == 1
        bad = collector.matching(lambda s: s.quality is Quality.BAD)
        assert len(bad) == 1, "one bad sample per point per outage"
    finally:
        await driver.close()
        await collector.stop()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_persistent_session_keeps_qos1_messages_while_away_even_across_a_broker_restart(
    persistent_broker: Broker, protocol: str
) -> None:
    broker = persistent_broker
    topic = f"{uuid.uuid4().hex[:8]}/sensor"
    points = [MqttPoint(key="v", topic=topic, field="data.v", qos=1)]
    options = {
        "client_id": f"persist-{uuid.uuid4().hex[:6]}",
        "reconnect_initial_s": 0.1,
        "protocol": protocol,  # 3.1.1: clean_session=0; 5: clean_start=0 + session expiry
    }

    first = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, **options)
    await first.subscribe(points)
    await first.connect()
    await first.close()  # a clean DISCONNECT; the session (and its QoS 1 subscription) stays

    await publish(broker.host, broker.port, [(topic, message(float(n))) for n in range(3)])
    await asyncio.to_thread(broker.stop)  # SIGTERM: mosquitto writes its store to disk
    await asyncio.to_thread(broker.start)
    await publish(broker.host, broker.port, [(topic, message(float(n))) for n in range(3, 5)])

    second = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, **options)
    collector = Collector(second.stream())
    try:
        await second.subscribe(points)
        await second.connect()
        samples = await collector.wait_for(lambda s: s.key == "v", count=5)
        assert [s.value for s in samples] == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert all(s.quality is Quality.GOOD for s in samples)
    finally:
        await second.close()
        await collector.stop()


async def test_clean_session_loses_what_was_published_while_away(broker: Broker) -> None:
    """The counterpart: without a persistent session nothing is kept (so the test above can fail)."""
    topic = f"{uuid.uuid4().hex[:8]}/sensor"
    points = [MqttPoint(key="v", topic=topic, field="data.v")]
    options = {"client_id": "clean-test", "clean_session": True}
    first = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, **options)
    await first.subscribe(points)
    await first.connect()
    await first.close()
    await publish(broker.host, broker.port, [(topic, message(7.0))])

    second = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, **options)
    collector = Collector(second.stream())
    try:
        await second.subscribe(points)
        await second.connect()
        await publish(broker.host, broker.port, [(topic, message(8.0))])
        samples = await collector.wait_for(lambda s: s.key == "v")
        assert [s.value for s in samples] == [8.0]
    finally:
        await second.close()
        await collector.stop()
