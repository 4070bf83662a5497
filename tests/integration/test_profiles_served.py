"""Every OPC UA and MQTT device profile in the catalog is served by its simulator and read by its
driver with good quality (the Modbus profiles: test_modbus_profiles.py)."""

from __future__ import annotations

import asyncio

import pytest

from device_profiles import Catalog, DeviceEntry, Protocol, resolve_device
from protocols import Quality, Timeouts
from protocols.mqtt.driver import MqttDriver
from protocols.opcua.driver import OpcUaDriver
from simulators.device import SimDevice
from simulators.mqtt_broker import MqttBroker
from simulators.mqtt_publisher import MqttSimPublisher
from simulators.opcua_server import OpcUaSimServer

CATALOG = Catalog()
OPCUA = [p for p in CATALOG.profile_ids() if CATALOG.profile(p).protocol is Protocol.OPCUA]
MQTT = [p for p in CATALOG.profile_ids() if CATALOG.profile(p).protocol is Protocol.MQTT]
NUMERIC = {"info"}  # quantities that are text, not measurements


def test_the_catalog_has_opcua_and_mqtt_profiles() -> None:
    assert len(OPCUA) >= 2
    assert len(MQTT) >= 2


@pytest.mark.parametrize("profile_id", OPCUA)
async def test_opcua_profile_is_served_and_read_good(profile_id: str) -> None:
    profile = CATALOG.profile(profile_id)
    entry = DeviceEntry(id="dev-1", profile=profile_id, url="opc.tcp://127.0.0.1:1")
    resolved = resolve_device(entry, profile)
    async with OpcUaSimServer([SimDevice(entry, profile)]) as server:
        driver = OpcUaDriver.from_url(server.endpoint, timeouts=Timeouts(connect_s=5, io_s=2))
        try:
            await driver.connect()
            samples = await driver.read(driver.plan([p.spec for p in resolved.points]))
        finally:
            await driver.close()
    assert [s.key for s in samples] == [p.point_id for p in resolved.points]
    assert [(s.key, s.reason) for s in samples if s.quality is not Quality.GOOD] == []
    for point, sample in zip(resolved.points, samples, strict=True):
        if point.quantity not in NUMERIC and point.range is not None:
            assert point.range[0] - 1e-6 <= float(sample.value) <= point.range[1] + 1e-6  # type: ignore[arg-type]


@pytest.mark.parametrize("profile_id", MQTT)
async def test_mqtt_profile_is_published_and_read_good(profile_id: str) -> None:
    profile = CATALOG.profile(profile_id)
    async with MqttBroker(port=0) as broker:
        entry = DeviceEntry(id="dev-1", profile=profile_id, url=broker.url)
        resolved = resolve_device(entry, profile)
        driver = MqttDriver.from_url(
            broker.url, timeouts=Timeouts(connect_s=5, io_s=2), device_id="reader"
        )
        wanted = {p.point_id for p in resolved.points}
        got: dict[str, object] = {}
        async with driver:
            await driver.subscribe([p.spec for p in resolved.points])
            await driver.connect()
            async with MqttSimPublisher(
                [SimDevice(entry, profile)], broker_url=broker.url, interval_s=0.2
            ):
                async with asyncio.timeout(15):
                    async for sample in driver.stream():
                        got[sample.key] = sample
                        if wanted <= got.keys():
                            break
    bad = [(k, s.reason) for k, s in got.items() if s.quality is not Quality.GOOD]  # type: ignore[attr-defined]
    assert bad == []
    for point in resolved.points:
        sample = got[point.point_id]
        has_stamp = getattr(point.spec, "timestamp_field", None) is not None
        assert (sample.source_ts is not None) is has_stamp  # type: ignore[attr-defined]
