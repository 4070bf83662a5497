"""Modbus RTU over a real serial line: a socat pty pair, the simulator on one end, the driver on the other."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_profiles import Catalog
from protocols import Quality, Timeouts
from protocols.modbus.driver import ModbusDriver
from simulators.modbus_server import ModbusSimServer
from tests.integration.test_modbus_tcp import INT_VALUES, all_types_profile, by_key, sim, specs
from tests.support.procs import Child, wait_for

SOCAT = shutil.which("socat")


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    if SOCAT is None:
        pytest.skip("socat is not installed")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    child = Child(
        [SOCAT, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        log=tmp_path / "socat.log",
    )
    try:
        wait_for(lambda: a.exists() and b.exists(), timeout_s=10, what="socat pty links")
        yield str(a), str(b)
    finally:
        child.stop()


async def test_rtu_on_a_serial_line_reads_and_writes(serial_pair: tuple[str, str]) -> None:
    server_end, driver_end = serial_pair
    gas = sim(Catalog().profile("gd-h2s-mb"), unit_id=7)
    types = sim(all_types_profile(), unit_id=8)
    # Parity N: a Linux pty refuses (EINVAL) most requests to set parity.
    server = ModbusSimServer(
        [gas, types], framer="rtu", serial_port=server_end, baudrate=19200, parity="N"
    )
    url = server.serial_url(driver_end)
    assert url == f"modbus+rtu://{driver_end}?baudrate=19200&parity=N&stopbits=1&bytesize=8"
    async with server:
        driver = ModbusDriver.from_url(url, timeouts=Timeouts(connect_s=2.0, io_s=1.0))
        async with driver:
            gas_samples = by_key(await driver.read(driver.plan(specs(gas))))
            points = {p.key: p for p in specs(types)}
            await driver.write(points["relay"], False)
            await driver.write(points["float64_cdab"], 99.5)
            type_samples = by_key(await driver.read(driver.plan(list(points.values()))))
            gas.set_online(False)
            offline = await driver.read(driver.plan(specs(gas)))
            stats = driver.statistics()
    assert all(s.quality is Quality.GOOD for s in gas_samples.values()), gas_samples
    assert 0.0 <= gas_samples["h2s"].value <= 1.0  # type: ignore[operator]
    assert all(s.quality is Quality.GOOD for s in type_samples.values())
    assert type_samples["int64_dcba"].value == INT_VALUES["int64"]
    assert type_samples["relay"].value is False
    assert type_samples["float64_cdab"].value == 99.5
    # An unpowered device on the bus just stays silent.
    assert {s.reason for s in offline} == {"modbus.timeout"}
    assert stats.connected
    assert stats.reconnects == 0
