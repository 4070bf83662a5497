"""MqttDriver through a real mosquitto: field paths, numbers, timestamps, malformed payloads, writes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from protocols import Quality, Timeouts, WriteError, open_driver
from protocols.mqtt import MqttPoint, PayloadFormat
from protocols.mqtt.driver import MqttDriver
from simulators.mqtt_publisher import MqttSimPublisher
from tests.support.mosquitto import Broker
from tests.support.mqtt_clients import Collector, publish, subscriber
from tests.support.sim_devices import MQTT_PROFILE, make_device, write_profile

pytestmark = pytest.mark.mosquitto
TIMEOUTS = Timeouts(connect_s=5.0, io_s=2.0)


@contextlib.asynccontextmanager
async def running(
    url: str, points: Sequence[MqttPoint], **options: Any
) -> AsyncIterator[tuple[MqttDriver, Collector]]:
    """A connected, subscribed driver and a collector of its stream, both ended on exit."""
    options.setdefault("device_id", f"test-{uuid.uuid4().hex[:8]}")
    driver = open_driver(url, timeouts=TIMEOUTS, **options)
    assert isinstance(driver, MqttDriver)
    collector = Collector(driver.stream())
    try:
        await driver.subscribe(points)
        await driver.connect()
        yield driver, collector
    finally:
        await driver.close()
        await collector.stop()


def key_is(key: str, quality: Quality | None = None) -> Any:
    return lambda s: s.key == key and (quality is None or s.quality is quality)


async def test_json_fields_numbers_and_timestamps(broker: Broker) -> None:
    site = uuid.uuid4().hex[:8]
    points = [
        MqttPoint(key="pm10", topic=f"{site}/+/dust", field="data.pm10", timestamp_field="ts"),
        MqttPoint(key="pm25", topic=f"{site}/+/dust", field="data.pm25", timestamp_field="ts"),
        MqttPoint(key="first", topic=f"{site}/list", field="values.0"),
        MqttPoint(key="laeq", topic=f"{site}/dev-1/noise", payload=PayloadFormat.NUMBER),
        MqttPoint(key="all", topic=f"{site}/#", payload=PayloadFormat.NUMBER, scale=2.0),
    ]
    iso = "2024-05-06T07:08:09.500+02:00"
    async with running(broker.url, points) as (driver, collector):
        await publish(
            broker.host,
            broker.port,
            [
                (f"{site}/dev-1/dust", json.dumps({"ts": iso, "data": {"pm10": 42, "pm25": 17.5}})),
                (
                    f"{site}/dev-2/dust",
                    json.dumps({"ts": 1715000000123, "data": {"pm10": 1, "pm25": 2}}),
                ),
                (
                    f"{site}/dev-3/dust",
                    json.dumps({"ts": 1715000000.25, "data": {"pm10": 3, "pm25": 4}}),
                ),
                (f"{site}/list", json.dumps({"values": [5.5, 6.5]})),
                (f"{site}/dev-1/noise", b"71.5"),
            ],
        )
        pm10 = await collector.wait_for(key_is("pm10"), count=3)
        pm25 = await collector.wait_for(key_is("pm25"), count=3)
        (first,) = await collector.wait_for(key_is("first"))
        (laeq,) = await collector.wait_for(key_is("laeq"))
        # "all" (number payload on #) matches all five; only the noise message is a number
        alls = await collector.wait_for(key_is("all"), count=5)

    expected_ts = datetime.fromisoformat(iso).timestamp()
    assert [(s.value, s.source_ts) for s in pm10] == [
        (42.0, expected_ts),
        (1.0, 1715000000.123),
        (3.0, 1715000000.25),
    ]
    assert [s.value for s in pm25] == [17.5, 2.0, 4.0]
    assert all(s.quality is Quality.GOOD for s in pm10 + pm25)
    assert first.value == 5.5
    assert first.source_ts is None  # no timestamp field: none invented
    assert laeq.value == 71.5
    assert [s.value for s in alls if s.quality is Quality.GOOD] == [143.0]
    assert {s.reason for s in alls if s.quality is Quality.BAD} == {"mqtt.payload.not_number"}
    assert driver.statistics().extra["errors_by_reason"] == {"mqtt.payload.not_number": 4}


MALFORMED = [
    (b"{not json", "mqtt.payload.not_json"),
    (b"\xff\xfe\x00", "mqtt.payload.not_utf8"),
    (b"", "mqtt.payload.empty"),
    (json.dumps({"ts": 1715000000, "data": {}}).encode(), "mqtt.payload.missing_field"),
    (json.dumps({"ts": 1715000000, "data": {"v": "12.5"}}).encode(), "mqtt.payload.not_number"),
    (json.dumps({"ts": 1715000000, "data": {"v": None}}).encode(), "mqtt.payload.not_number"),
    (json.dumps({"ts": 1715000000, "data": {"v": True}}).encode(), "mqtt.payload.bool_not_number"),
    (b'{"ts": 1715000000, "data": {"v": NaN}}', "mqtt.payload.not_finite"),
    (b'{"ts": 1715000000, "data": {"v": -Infinity}}', "mqtt.payload.not_finite"),
    (json.dumps({"ts": "yesterday", "data": {"v": 1}}).encode(), "mqtt.payload.bad_timestamp"),
    (
        json.dumps({"ts": "2024-05-06T07:08:09", "data": {"v": 1}}).encode(),
        "mqtt.payload.bad_timestamp",
    ),
    (json.dumps({"data": {"v": 1}}).encode(), "mqtt.payload.missing_timestamp"),
    (b"x" * 300, "mqtt.payload.too_large"),
]


async def test_each_malformed_payload_is_a_counted_bad_sample_and_the_driver_keeps_going(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = f"{uuid.uuid4().hex[:8]}/sensor"
    point = MqttPoint(key="v", topic=topic, field="data.v", timestamp_field="ts")
    good = json.dumps({"ts": 1715000000, "data": {"v": 9.75}}).encode()
    async with running(broker.url, [point], max_payload_bytes=256) as (driver, collector):
        messages = [(topic, payload) for payload, _ in MALFORMED] + [(topic, good)]
        await publish(broker.host, broker.port, messages)
        samples = await collector.wait_for(key_is("v"), count=len(MALFORMED) + 1)
        stats = driver.statistics()

    bad, last = samples[:-1], samples[-1]
    assert [s.reason for s in bad] == [reason for _, reason in MALFORMED]
    assert all(s.quality is Quality.BAD and s.value is None for s in bad)
    assert (last.quality, last.value, last.source_ts) == (Quality.GOOD, 9.75, 1715000000.0)
    by_reason = stats.extra["errors_by_reason"]
    assert by_reason["mqtt.payload.not_number"] == 2
    assert by_reason["mqtt.payload.not_finite"] == 2
    assert sum(by_reason.values()) == len(MALFORMED)
    # logged once per state change: a repeated reason right after itself is silent
    reasons = [reason for _, reason in MALFORMED]
    changes = 1 + sum(1 for a, b in itertools.pairwise(reasons) if a != b)
    assert changes < len(MALFORMED)
    out = capsys.readouterr().out
    assert out.count("mqtt.point_bad") == changes
    assert out.count("mqtt.point_back") == 1


async def test_simulated_publisher_feeds_the_driver(broker: Broker, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, MQTT_PROFILE)
    device_time = 1_715_000_000.5
    device = make_device(profile, "dust-7", broker.url, wall_clock=lambda: device_time)
    points = [
        MqttPoint(key="pm10", topic="site/dust-7/dust", field="data.pm10", timestamp_field="ts"),
        MqttPoint(key="pm25", topic="site/dust-7/dust", field="data.pm25", timestamp_field="ts"),
        MqttPoint(key="laeq", topic="site/dust-7/noise", payload=PayloadFormat.NUMBER),
    ]
    async with (
        running(broker.url, points) as (_, collector),
        MqttSimPublisher([device], broker_url=broker.url, interval_s=0.1) as publisher,
    ):
        (pm10,) = await collector.wait_for(key_is("pm10", Quality.GOOD))
        (pm25,) = await collector.wait_for(key_is("pm25", Quality.GOOD))
        (laeq,) = await collector.wait_for(key_is("laeq", Quality.GOOD))
        assert publisher.published >= 2
    assert (pm10.value, pm10.source_ts) == (pytest.approx(42.0), device_time)
    assert pm25.value == pytest.approx(17.5)
    assert laeq.value == pytest.approx(71.5)
    assert laeq.source_ts is None


async def test_write_publishes_qos1_to_the_points_topic(broker: Broker) -> None:
    topic = f"{uuid.uuid4().hex[:8]}/setpoint"
    json_point = MqttPoint(key="sp", topic=topic, field="cmd.level", scale=0.5)
    number_point = MqttPoint(key="n", topic=topic + "/n", payload=PayloadFormat.NUMBER)
    async with (
        running(broker.url, []) as (driver, _),
        subscriber(broker.host, broker.port, topic + "/#") as listener,
    ):
        await driver.write(json_point, 12.0)
        await driver.write(number_point, 3)
        received: list[tuple[str, Any]] = []
        async with asyncio.timeout(10):
            async for message in listener.messages:
                received.append((message.topic.value, json.loads(bytes(message.payload))))
                if len(received) == 2:
                    break
        assert driver.statistics().extra["published"] == 2
        with pytest.raises(WriteError, match="is a filter"):
            await driver.write(MqttPoint(key="w", topic="a/+/b", field="x"), 1.0)
        with pytest.raises(WriteError, match="not a number"):
            await driver.write(json_point, "high")
    assert received == [(topic, {"cmd": {"level": 24.0}}), (topic + "/n", 3.0)]


async def test_write_when_not_connected_is_retriable(broker: Broker) -> None:
    driver = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, device_id="w")
    with pytest.raises(WriteError, match="not connected") as error:
        await driver.write(MqttPoint(key="sp", topic="a/b", field="x"), 1.0)
    assert error.value.retriable is True
    await driver.close()


async def test_subscribing_after_connect_adds_filters_without_replaying_retained(
    broker: Broker,
) -> None:
    site = uuid.uuid4().hex[:8]
    await publish(broker.host, broker.port, [(f"{site}/b", b"5.0")], retain=True)
    first = MqttPoint(key="a", topic=f"{site}/a", payload=PayloadFormat.NUMBER)
    second = MqttPoint(key="b1", topic=f"{site}/b", payload=PayloadFormat.NUMBER)
    third = MqttPoint(key="b2", topic=f"{site}/b", payload=PayloadFormat.NUMBER)
    async with running(broker.url, [first]) as (driver, collector):
        await driver.subscribe([second])
        (retained,) = await collector.wait_for(key_is("b1"))
        assert retained.value == 5.0
        await driver.subscribe([third])  # same filter: no new SUBSCRIBE, so no replay
        await publish(broker.host, broker.port, [(f"{site}/b", b"6.0")])
        await collector.wait_for(key_is("b1"), count=2)
        (fresh,) = await collector.wait_for(key_is("b2"))
        assert fresh.value == 6.0
        assert [s.value for s in collector.matching(key_is("b1"))] == [5.0, 6.0]
        assert [s.value for s in collector.matching(key_is("b2"))] == [6.0]
