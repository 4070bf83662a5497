"""The OPC UA server process is killed and restarted on the same port under a running driver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from protocols import Quality, Sample, Timeouts
from protocols.opcua import OpcUaPoint
from protocols.opcua.driver import OpcUaDriver
from tests.support.ports import free_port, wait_port
from tests.support.procs import Child
from tests.support.sim_devices import OPCUA_PROFILE, write_profile

pytestmark = pytest.mark.slow


def start_server(profile_dir: Path, port: int, log: Path) -> Child:
    return Child.python(
        "simulators.opcua_server",
        "--profile",
        "test-o2-ua",
        "--profile-dir",
        str(profile_dir),
        "--device-id",
        "ox-1",
        "--port",
        str(port),
        "--update-interval-s",
        "0.05",
        log=log,
    )


async def wait_until(
    samples: list[Sample], predicate: Callable[[list[Sample]], bool], timeout_s: float = 20.0
) -> None:
    """Poll the collected samples (bounded): the collector has no event to wait on."""
    async with asyncio.timeout(timeout_s):
        while not predicate(samples):
            await asyncio.sleep(0.02)


async def test_bad_samples_during_outage_then_subscription_comes_back(tmp_path: Path) -> None:
    profile_dir = tmp_path / "profiles"
    write_profile(profile_dir, OPCUA_PROFILE)
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/hse/sim"
    points = [
        OpcUaPoint(key="o2", node_id="ns=2;s=ox-1.O2", sampling_interval_ms=100),
        OpcUaPoint(key="vib", node_id="ns=2;s=ox-1.Vib", sampling_interval_ms=100),
    ]
    server = start_server(profile_dir, port, tmp_path / "server-1.log")
    driver = OpcUaDriver.from_url(
        endpoint,
        timeouts=Timeouts(connect_s=3.0, io_s=1.0),
        reconnect_initial_s=0.2,
        reconnect_max_s=1.0,
        watchdog_interval_s=0.5,
    )
    samples: list[Sample] = []

    async def collect() -> None:
        async for sample in driver.stream():
            samples.append(sample)

    collector = asyncio.create_task(collect(), name="test.collect")
    try:
        await asyncio.to_thread(wait_port, port, 20.0)
        await driver.subscribe(points)
        await driver.connect()
        await wait_until(
            samples, lambda s: {x.key for x in s if x.quality is Quality.GOOD} == {"o2", "vib"}
        )
        before_outage = len(samples)

        server.kill()  # SIGKILL: no goodbye on the wire
        server.stop()  # reaps it and closes its log
        await wait_until(
            samples,
            lambda s: (
                {x.key for x in s[before_outage:] if x.quality is Quality.BAD} == {"o2", "vib"}
            ),
        )
        outage = samples[before_outage:]
        assert all(
            x.reason == "opcua.BadNoCommunication" for x in outage if x.quality is Quality.BAD
        )
        assert all(x.value is None for x in outage if x.quality is Quality.BAD)
        # the polling contract answers at once during the outage, one bad sample per point
        polled = await driver.read(driver.plan(points))
        assert [x.quality for x in polled] == [Quality.BAD, Quality.BAD]
        assert driver.statistics().connected is False

        server = start_server(profile_dir, port, tmp_path / "server-2.log")
        await asyncio.to_thread(wait_port, port, 20.0)
        await wait_until(
            samples,
            lambda s: (
                {x.key for x in s[before_outage:] if x.quality is Quality.GOOD} == {"o2", "vib"}
            ),
        )
        after = samples[before_outage:]
        for key in ("o2", "vib"):
            states = [x.quality for x in after if x.key == key]
            first_good = states.index(Quality.GOOD)
            assert states[:first_good] == [Quality.BAD], f"{key}: exactly one bad sample per outage"
        stats = driver.statistics()
        assert stats.connected is True
        assert stats.reconnects == 1
        assert stats.extra["dropped"] == 0
        assert [x.quality for x in await driver.read(driver.plan(points))] == [Quality.GOOD] * 2
    finally:
        await driver.close()
        collector.cancel()
        await asyncio.wait([collector])
        server.stop()
