"""Every Modbus device profile in the catalog is served by the simulator and read by the driver."""

from __future__ import annotations

import pytest

from device_profiles import Catalog, DeviceEntry, Protocol, resolve_device
from protocols import Quality, Timeouts
from protocols.modbus.driver import ModbusDriver
from simulators.device import SimDevice
from simulators.modbus_server import ModbusSimServer

CATALOG = Catalog()
MODBUS_PROFILES = [
    pid for pid in CATALOG.profile_ids() if CATALOG.profile(pid).protocol is Protocol.MODBUS
]


def test_the_catalog_has_modbus_profiles() -> None:
    assert {"gd-h2s-mb", "plc-safety-mb"} <= set(MODBUS_PROFILES)


@pytest.mark.parametrize("profile_id", MODBUS_PROFILES)
async def test_profile_is_served_and_read_good(profile_id: str) -> None:
    profile = CATALOG.profile(profile_id)
    entry = DeviceEntry(id="dev", profile=profile_id, url="modbus+sim://", unit_id=11)
    device = SimDevice(entry=entry, profile=profile)
    resolved = resolve_device(entry, profile)
    async with ModbusSimServer([device]) as server:
        driver = ModbusDriver.from_url(
            server.endpoint, timeouts=Timeouts(connect_s=2, io_s=1), **resolved.driver_options
        )
        async with driver:
            samples = await driver.read(driver.plan([p.spec for p in resolved.points]))
            stats = driver.statistics()
    assert [s.key for s in samples] == [p.point_id for p in resolved.points]
    bad = [(s.key, s.reason) for s in samples if s.quality is not Quality.GOOD]
    assert not bad
    assert stats.extra["exceptions"] == 0  # the profile's own limits are honoured by the plan
