"""The embedded MQTT broker, with the real paho client and with MqttDriver."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest

from protocols import ConnectError, Quality, Timeouts
from protocols.mqtt import MqttPoint
from protocols.mqtt.driver import MqttDriver
from simulators.mqtt_broker import MqttBroker, packet
from tests.support.mqtt_clients import Collector, publish

TIMEOUTS = Timeouts(connect_s=3.0, io_s=2.0)


class PahoClient:
    """paho's own threaded client, recording what it receives; every wait is bounded."""

    def __init__(
        self, port: int, client_id: str, *, clean: bool = True, keepalive: int = 60
    ) -> None:
        self.received: list[paho.MQTTMessage] = []
        self.subacks: list[list[int]] = []
        self.session_present: bool | None = None
        self._changed = threading.Condition()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", port, keepalive=keepalive)
        self.client.loop_start()
        self._wait(lambda: self.session_present is not None, "CONNACK")

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _wait(self, predicate: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout_s):
                raise TimeoutError(f"no {what} within {timeout_s} s")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.session_present = bool(flags.session_present)
        self._notify()

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        self.received.append(message)
        self._notify()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self.subacks.append([c.value for c in codes])
        self._notify()

    def subscribe(self, topics: list[tuple[str, int]]) -> None:
        before = len(self.subacks)
        self.client.subscribe(topics)
        self._wait(lambda: len(self.subacks) > before, "SUBACK")

    def wait_messages(self, count: int) -> list[paho.MQTTMessage]:
        self._wait(lambda: len(self.received) >= count, f"{count} messages")
        return self.received[:count]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker_thread() -> Iterator[MqttBroker]:
    """The embedded broker on its own event loop in a thread, for the blocking paho client."""
    loop = asyncio.new_event_loop()
    broker = MqttBroker(port=0, max_queued_messages=3)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(broker.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(broker.stop())
        loop.close()

    thread = threading.Thread(target=run, name="embedded-broker")
    thread.start()
    assert ready.wait(10)
    try:
        yield broker
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_paho_wildcards_qos1_retained_and_unsubscribe(broker_thread: MqttBroker) -> None:
    port = broker_thread.port
    sub = PahoClient(port, "sub-1")
    pub = PahoClient(port, "pub-1")
    try:
        pub.client.publish("plant/a/status", b"retained-1", qos=1, retain=True).wait_for_publish(5)
        sub.subscribe([("plant/+/gas", 1), ("plant/#", 0)])
        assert sub.subacks[-1] == [1, 0]
        (retained,) = sub.wait_messages(1)
        assert (retained.topic, retained.payload, retained.retain) == (
            "plant/a/status",
            b"retained-1",
            True,
        )

        info = pub.client.publish("plant/b/gas", b"12.5", qos=1)
        info.wait_for_publish(5)
        assert info.is_published()  # the broker's PUBACK arrived
        pub.client.publish("other/topic", b"x", qos=1).wait_for_publish(5)
        pub.client.publish("plant/c/noise", b"71", qos=0).wait_for_publish(5)
        messages = sub.wait_messages(3)
        assert [(m.topic, m.payload, m.qos, m.retain) for m in messages[1:]] == [
            ("plant/b/gas", b"12.5", 1, False),  # highest matching subscription QoS
            ("plant/c/noise", b"71", 0, False),
        ]

        sub.client.unsubscribe("plant/#")
        sub.client.unsubscribe("plant/+/gas")
        pub.client.publish("plant/b/gas", b"after", qos=1).wait_for_publish(5)
        sub.client.publish("sync/marker", b"", qos=1).wait_for_publish(5)  # a round trip on sub
        assert all(m.payload != b"after" for m in sub.received)
    finally:
        sub.close()
        pub.close()


def test_paho_persistent_session_gets_queued_qos1_bounded(broker_thread: MqttBroker) -> None:
    port = broker_thread.port
    first = PahoClient(port, "persist-1", clean=False)
    first.subscribe([("dev/#", 1)])
    first.close()
    pub = PahoClient(port, "pub-2")
    for n in range(5):
        pub.client.publish("dev/x", str(n).encode(), qos=1).wait_for_publish(5)
    pub.close()

    again = PahoClient(port, "persist-1", clean=False)
    try:
        assert again.session_present is True
        messages = again.wait_messages(3)
        # max_queued_messages=3: the oldest two were dropped, and counted
        assert [m.payload for m in messages] == [b"2", b"3", b"4"]
        assert broker_thread.statistics().dropped == 2
    finally:
        again.close()


def test_paho_keepalive_pings_keep_the_connection(broker_thread: MqttBroker) -> None:
    client = PahoClient(broker_thread.port, "pinger", keepalive=1)
    try:
        threading.Event().wait(2.5)  # more than 1.5 keepalives: only PINGREQ/PINGRESP flowed
        client.subscribe([("ping/check", 1)])
        client.client.publish("ping/check", b"alive", qos=1).wait_for_publish(5)
        (message,) = client.wait_messages(1)
        assert message.payload == b"alive"
    finally:
        client.close()


async def test_driver_through_the_embedded_broker_and_its_restart() -> None:
    broker = MqttBroker(port=0)
    await broker.start()
    port = broker.port
    topic = f"{uuid.uuid4().hex[:8]}/dust"
    points = [
        MqttPoint(key="pm10", topic=topic, field="pm10", timestamp_field="ts"),
        MqttPoint(key="pm25", topic=topic, field="pm25", timestamp_field="ts"),
    ]
    driver = MqttDriver.from_url(
        broker.url,
        timeouts=TIMEOUTS,
        client_id="drv-1",
        reconnect_initial_s=0.1,
        reconnect_max_s=0.5,
    )
    collector = Collector(driver.stream())
    try:
        await driver.subscribe(points)
        await driver.connect()
        payload = json.dumps({"ts": 1715000000, "pm10": 40, "pm25": 15})
        await publish("127.0.0.1", port, [(topic, payload)])
        samples = await collector.wait_for(lambda s: s.quality is Quality.GOOD, count=2)
        assert sorted((s.key, s.value, s.source_ts) for s in samples) == [
            ("pm10", 40.0, 1715000000.0),
            ("pm25", 15.0, 1715000000.0),
        ]

        await broker.stop()  # sessions live in memory: the restarted broker knows nothing
        await collector.wait_for(lambda s: s.reason == "mqtt.disconnected", count=2)
        broker = MqttBroker(port=port)
        await broker.start()
        async with asyncio.timeout(10):
            while not driver.statistics().connected:
                await asyncio.sleep(0.05)
        await publish(
            "127.0.0.1", port, [(topic, json.dumps({"ts": 1715000001, "pm10": 41, "pm25": 16}))]
        )
        back = await collector.wait_for(lambda s: s.value == 41.0)
        assert back[0].source_ts == 1715000001.0
        assert driver.statistics().reconnects == 1
    finally:
        await driver.close()
        await collector.stop()
        await broker.stop()


async def test_driver_persistent_session_on_the_embedded_broker() -> None:
    async with MqttBroker(port=0) as broker:
        topic = f"{uuid.uuid4().hex[:8]}/v"
        points = [MqttPoint(key="v", topic=topic, field="v")]
        first = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, client_id="drv-p")
        await first.subscribe(points)
        await first.connect()
        await first.close()
        await publish("127.0.0.1", broker.port, [(topic, json.dumps({"v": n})) for n in range(3)])

        second = MqttDriver.from_url(broker.url, timeouts=TIMEOUTS, client_id="drv-p")
        collector = Collector(second.stream())
        try:
            await second.subscribe(points)
            await second.connect()
            samples = await collector.wait_for(lambda s: s.key == "v", count=3)
            assert [s.value for s in samples] == [0.0, 1.0, 2.0]
        finally:
            await second.close()
            await collector.stop()


async def test_embedded_broker_checks_passwords_and_survives_garbage() -> None:
    async with MqttBroker(port=0, users={"agent": "s3cret"}) as broker:
        wrong = MqttDriver.from_url(
            broker.url, timeouts=TIMEOUTS, device_id="x", username="agent", password="nope"
        )
        with pytest.raises(ConnectError, match="user 'agent'") as refused:
            await wrong.connect()
        assert refused.value.retriable is False
        await wrong.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        writer.write(b"\x10\xff\xff\xff\xff\x7f garbage")  # a remaining length over 4 bytes
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the broker hung up on it
        writer.close()
        await writer.wait_closed()

        # an invalid filter is refused in its SUBACK (0x80), the connection stays
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        connect = b"\x00\x04MQTT\x04\xc2\x00\x3c" + b"\x00\x03raw"
        connect += b"\x00\x05agent" + b"\x00\x06s3cret"
        writer.write(packet(1, 0, connect))
        subscribe = b"\x00\x07" + b"\x00\x07bad/#/x\x01" + b"\x00\x03a/+\x01"
        writer.write(packet(8, 2, subscribe))
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.readexactly(4) == b"\x20\x02\x00\x00"  # CONNACK accepted
            assert await reader.readexactly(6) == b"\x90\x04\x00\x07\x80\x01"  # SUBACK
        writer.close()
        await writer.wait_closed()

        right = MqttDriver.from_url(
            broker.url, timeouts=TIMEOUTS, device_id="y", username="agent", password="s3cret"
        )
        try:
            await right.connect()
            assert right.statistics().connected
        finally:
            await right.close()
