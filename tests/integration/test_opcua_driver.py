"""OpcUaDriver against OpcUaSimServer on loopback: reads, status codes, timestamps, deadbands, writes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from device_profiles import DeviceProfile
from protocols import Quality, Sample, Timeouts, WriteError, open_driver
from protocols.opcua import OpcUaPoint
from protocols.opcua.driver import OpcUaDriver
from protocols.opcua.status import BAD_SENSOR_FAILURE, UNCERTAIN_LAST_USABLE_VALUE
from simulators.opcua_server import OpcUaSimServer
from tests.support.sim_devices import OPCUA_PROFILE, make_device, write_profile

TIMEOUTS = Timeouts(connect_s=5.0, io_s=2.0)
SOURCE_TIME = 1_700_000_000.25  # a fixed device clock, far from the receive time


@pytest.fixture
def profile(tmp_path: Path) -> DeviceProfile:
    return write_profile(tmp_path / "profiles", OPCUA_PROFILE)


@contextlib.asynccontextmanager
async def running(profile: DeviceProfile) -> AsyncIterator[tuple[OpcUaSimServer, OpcUaDriver]]:
    """A simulator with two devices and a connected driver, both stopped on exit.

    (Inside the test, not a fixture: the task-leak check runs before async fixtures end.)
    """
    devices = [
        make_device(profile, "ox-1", wall_clock=lambda: SOURCE_TIME),
        make_device(profile, "ox-2"),
    ]
    async with OpcUaSimServer(devices, update_interval_s=0.05) as server:
        drv = open_driver(server.endpoint, timeouts=TIMEOUTS, device_id="ox")
        assert isinstance(drv, OpcUaDriver)
        await drv.connect()
        try:
            yield server, drv
        finally:
            await drv.close()


def point(sim: OpcUaSimServer, device: str, point_id: str, **kwargs: object) -> OpcUaPoint:
    return OpcUaPoint(key=f"{device}/{point_id}", node_id=sim.node_id(device, point_id), **kwargs)  # type: ignore[arg-type]


async def test_plain_read_of_many_nodes_is_one_request(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        points = [point(sim, dev, pid) for dev in ("ox-1", "ox-2") for pid in ("o2", "vib")]
        points.append(point(sim, "ox-1", "pressure", scale=0.1))
        points.append(OpcUaPoint(key="missing", node_id="ns=2;s=no.such.node"))
        plan = driver.plan(points)
        before = driver.statistics().requests

        samples = await driver.read(plan)

        assert driver.statistics().requests == before + 1
        by_key = {s.key: s for s in samples}
        assert [s.key for s in samples] == [p.key for p in points]
        for dev in ("ox-1", "ox-2"):
            assert by_key[f"{dev}/o2"].quality is Quality.GOOD
            assert by_key[f"{dev}/o2"].value == pytest.approx(20.9)
            assert by_key[f"{dev}/vib"].value == pytest.approx(2.5)
        # the simulator serves the wire value 1013 (101.3 kPa / scale 0.1); the driver scales it back
        assert by_key["ox-1/pressure"].raw == pytest.approx(1013.0)
        assert by_key["ox-1/pressure"].value == pytest.approx(101.3)
        missing = by_key["missing"]
        assert missing.quality is Quality.BAD
        assert missing.value is None
        assert missing.reason == "opcua.BadNodeIdUnknown"


async def test_status_codes_map_to_quality_and_are_kept(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        sim.set_status("ox-2", "o2", BAD_SENSOR_FAILURE)
        sim.set_status("ox-2", "vib", UNCERTAIN_LAST_USABLE_VALUE)
        await sim.refresh_now()
        plan = driver.plan([point(sim, "ox-2", "o2"), point(sim, "ox-2", "vib")])

        bad, uncertain = await driver.read(plan)

        assert bad.quality is Quality.BAD
        assert bad.value is None  # a Bad value is never used (Part 4 §7.34)
        assert bad.status_code == BAD_SENSOR_FAILURE
        assert bad.reason == "opcua.BadSensorFailure"
        assert uncertain.quality is Quality.UNCERTAIN
        assert uncertain.value == pytest.approx(2.5)
        assert uncertain.status_code == UNCERTAIN_LAST_USABLE_VALUE
        assert uncertain.reason == "opcua.UncertainLastUsableValue"


async def test_offline_device_reads_bad_no_communication(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        sim.devices[1].set_online(False)
        await sim.refresh_now()
        (sample,) = await driver.read(driver.plan([point(sim, "ox-2", "o2")]))
        assert sample.quality is Quality.BAD
        assert sample.reason == "opcua.BadNoCommunication"


async def test_source_timestamp_is_the_servers_not_the_receive_time(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        (sample,) = await driver.read(driver.plan([point(sim, "ox-1", "o2")]))
        assert sample.source_ts == pytest.approx(SOURCE_TIME, abs=1e-6)
        assert sample.received_ts - SOURCE_TIME > 86_400  # received now, stamped in 2023


class Collector:
    """Collects a driver's stream in the background; ``wait_for`` waits for a matching sample."""

    def __init__(self, driver: OpcUaDriver) -> None:
        self.samples: list[Sample] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(driver), name="test.collector")

    async def _run(self, driver: OpcUaDriver) -> None:
        async for sample in driver.stream():
            self.samples.append(sample)
            self._changed.set()

    async def wait_for(self, match: Callable[[Sample], bool], timeout_s: float = 10.0) -> Sample:
        async with asyncio.timeout(timeout_s):
            while True:
                for sample in self.samples:
                    if match(sample):
                        return sample
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])


def is_value(key: str, value: float) -> Callable[[Sample], bool]:
    return lambda s: s.key == key and s.value is not None and abs(float(s.value) - value) < 1e-9


async def test_subscription_delivers_changes_beyond_the_deadband_only(
    profile: DeviceProfile,
) -> None:
    async with running(profile) as (sim, driver):
        o2 = point(
            sim, "ox-1", "o2", sampling_interval_ms=100, deadband_type="absolute", deadband=0.1
        )
        vib = point(sim, "ox-1", "vib", sampling_interval_ms=100)
        sim.hold("ox-1", "o2", 20.0)
        sim.hold("ox-1", "vib", 1.0)
        await sim.refresh_now()
        collector = Collector(driver)
        try:
            await driver.subscribe([o2, vib])
            first = await collector.wait_for(is_value(o2.key, 20.0))
            assert first.source_ts == pytest.approx(SOURCE_TIME, abs=1e-6)
            await collector.wait_for(is_value(vib.key, 1.0))

            sim.hold("ox-1", "o2", 20.05)  # 0.05 < deadband 0.1: must not be delivered
            await sim.refresh_now()
            sim.hold("ox-1", "vib", 1.5)  # no deadband: delivered, in the same or a later publish
            await sim.refresh_now()
            await collector.wait_for(is_value(vib.key, 1.5))
            for _ in range(3):
                await asyncio.sleep(0)  # let the rest of that publish response reach the list
            assert not any(is_value(o2.key, 20.05)(s) for s in collector.samples)

            sim.hold("ox-1", "o2", 20.5)  # 0.5 > deadband: delivered
            await sim.refresh_now()
            await collector.wait_for(is_value(o2.key, 20.5))
            o2_values = [s.value for s in collector.samples if s.key == o2.key]
            assert o2_values == [pytest.approx(20.0), pytest.approx(20.5)]
            assert driver.statistics().extra["dropped"] == 0
        finally:
            await collector.stop()


async def test_subscription_reports_bad_status_and_unknown_nodes(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        collector = Collector(driver)
        try:
            await driver.subscribe(
                [
                    point(sim, "ox-2", "vib"),
                    OpcUaPoint(key="ghost", node_id="ns=2;s=ghost.node", sampling_interval_ms=100),
                ]
            )
            ghost = await collector.wait_for(lambda s: s.key == "ghost")
            assert ghost.quality is Quality.BAD
            assert ghost.reason == "opcua.BadNodeIdUnknown"
            await collector.wait_for(lambda s: s.key == "ox-2/vib" and s.quality is Quality.GOOD)

            sim.set_status("ox-2", "vib", BAD_SENSOR_FAILURE)
            await sim.refresh_now()
            bad = await collector.wait_for(
                lambda s: s.key == "ox-2/vib" and s.quality is Quality.BAD
            )
            assert bad.reason == "opcua.BadSensorFailure"
            assert bad.status_code == BAD_SENSOR_FAILURE
            assert bad.value is None
        finally:
            await collector.stop()


async def test_writes_use_the_node_type_and_read_back(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        vib = point(sim, "ox-1", "vib")
        pressure = point(sim, "ox-1", "pressure", scale=0.1)

        await driver.write(vib, 3.25)
        await driver.write(pressure, 150.0)  # 1500 on the wire

        samples = await driver.read(driver.plan([vib, pressure]))
        assert [s.value for s in samples] == [pytest.approx(3.25), pytest.approx(150.0)]
        assert samples[1].raw == pytest.approx(1500.0)


TYPED_PROFILE = """\
schema_version: 1
id: test-typed-ua
manufacturer: Test
model: Nodes of every built-in numeric type
kind: gas_controller
protocol: opcua
points:
  - {id: alarm, quantity: status, unit: "1", opcua: {node_id: "ns=2;s={device}.Alarm", data_type: Boolean}, simulate: {model: steady, base: 1}}
  - {id: temp, quantity: temperature, unit: °C, range: [-40, 85], opcua: {node_id: "ns=2;s={device}.Temp", data_type: Int16, scale: 0.1}, simulate: {model: steady, base: -12.3}}
  - {id: counts, quantity: status, unit: "1", opcua: {node_id: "ns=2;s={device}.Counts", data_type: UInt16}, simulate: {model: steady, base: 70000}}
  - {id: big, quantity: status, unit: "1", opcua: {node_id: "ns=2;s={device}.Big", data_type: UInt32}, simulate: {model: steady, base: 123456}}
  - {id: co, quantity: gas.co, unit: ppm, range: [0, 500], opcua: {node_id: "ns=2;s={device}.CO", data_type: Float}, simulate: {model: steady, base: 12.7}}
"""


async def test_nodes_of_every_numeric_type_read_and_write_in_their_own_type(
    tmp_path: Path,
) -> None:
    """Boolean -> a flag; Int16 -123 at scale 0.1 -> -12.3 °C; UInt16 saturates at 65535 (the
    device cannot send 70000); UInt32 123456; Float 12.7 as float32 (12.699999809...)."""
    typed = write_profile(tmp_path / "profiles", TYPED_PROFILE)
    async with OpcUaSimServer([make_device(typed, "tx-1")], update_interval_s=0.05) as sim:
        drv = open_driver(sim.endpoint, timeouts=TIMEOUTS, device_id="tx")
        assert isinstance(drv, OpcUaDriver)
        await drv.connect()
        try:
            points = [point(sim, "tx-1", "alarm"), point(sim, "tx-1", "temp", scale=0.1),
                      point(sim, "tx-1", "counts"), point(sim, "tx-1", "big"),
                      point(sim, "tx-1", "co")]  # fmt: skip
            samples = await drv.read(drv.plan(points))
            assert [s.quality for s in samples] == [Quality.GOOD] * 5
            alarm, temp, counts, big, co = (s.value for s in samples)
            assert alarm is True
            assert temp == pytest.approx(-12.3)
            assert samples[1].raw == -123
            assert (counts, big) == (65535.0, 123456.0)
            assert co == pytest.approx(12.7, abs=1e-6)
            assert co != 12.7  # float32 on the wire, not a double

            await drv.write(points[1], -20.0)  # -200 as an Int16
            await drv.write(points[0], 0)  # a flag
            with pytest.raises(WriteError, match="Int16"):
                await drv.write(points[1], 5000.0)  # 50000 does not fit an Int16
            again = await drv.read(drv.plan(points[:2]))
            assert [s.value for s in again] == [False, pytest.approx(-20.0)]
        finally:
            await drv.close()


async def test_refused_writes_raise_write_error(profile: DeviceProfile) -> None:
    async with running(profile) as (sim, driver):
        with pytest.raises(WriteError, match="BadNodeIdUnknown") as unknown:
            await driver.write(OpcUaPoint(key="ghost", node_id="ns=2;s=ghost.node"), 1.0)
        assert unknown.value.retriable is False

        # ServerStatus.State (i=2259) is read-only for clients
        with pytest.raises(WriteError, match="refused") as read_only:
            await driver.write(OpcUaPoint(key="state", node_id="i=2259"), 1)
        assert read_only.value.retriable is False

        with pytest.raises(WriteError, match="not a finite number"):
            await driver.write(point(sim, "ox-1", "vib"), "fast")
