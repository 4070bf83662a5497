"""Faults: a simulator process killed and restarted, a peer that hangs up mid-frame, exception
responses. Each read must come back (bounded), with bad samples carrying a reason, and the
driver must recover by itself."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from device_profiles import DeviceProfile
from protocols import Quality, Sample, Timeouts
from protocols.modbus import DataType, ModbusPoint, Table, WordOrder
from protocols.modbus.driver import ModbusDriver
from simulators.modbus_server import ModbusSimServer
from tests.integration.test_modbus_tcp import by_key, sim, specs
from tests.support.ports import free_port
from tests.support.procs import Child

TIMEOUTS = Timeouts(connect_s=1.0, io_s=0.5)
FAST_RECONNECT = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.4}
# A read of one block may take a connect plus one request; anything longer is a hang.
READ_BOUND_S = TIMEOUTS.connect_s + 2 * TIMEOUTS.io_s + 1.0


async def wait_listening(port: int, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def bounded_read(driver: ModbusDriver, plan: Any) -> list[Sample]:
    async with asyncio.timeout(READ_BOUND_S):
        return await driver.read(plan)


def simulator(port: int, log: Path) -> Child:
    return Child.python(
        "simulators.modbus_server",
        "--profile",
        "gd-h2s-mb",
        "--unit-id",
        "1",
        "--port",
        str(port),
        log=log,
    )


H2S_POINTS = [
    ModbusPoint(
        key="h2s",
        unit_id=1,
        table=Table.INPUT,
        address=0,
        dtype=DataType.FLOAT32,
        order=WordOrder.CDAB,
    ),
    ModbusPoint(key="status", unit_id=1, table=Table.HOLDING, address=10),
]


async def test_killed_simulator_is_reported_bad_and_the_driver_recovers_by_itself(
    tmp_path: Path,
) -> None:
    port = free_port()
    child = simulator(port, tmp_path / "sim1.log")
    restarted: Child | None = None
    try:
        await wait_listening(port)
        driver = ModbusDriver.from_url(
            f"modbus+tcp://127.0.0.1:{port}", timeouts=TIMEOUTS, **FAST_RECONNECT
        )
        plan = driver.plan(H2S_POINTS)
        with capture_logs() as logs:
            before = await bounded_read(driver, plan)
            child.kill()  # SIGKILL: no goodbye on the socket beyond what the kernel sends
            gap = [await bounded_read(driver, plan) for _ in range(3)]
            restarted = simulator(port, tmp_path / "sim2.log")
            await wait_listening(port)
            recovered: list[Sample] = []
            async with asyncio.timeout(15):
                while not recovered or recovered[0].quality is not Quality.GOOD:
                    await asyncio.sleep(0.05)
                    recovered = await bounded_read(driver, plan)
        stats = driver.statistics()
        await driver.close()
    finally:
        child.stop()
        if restarted is not None:
            restarted.stop()
    assert all(s.quality is Quality.GOOD for s in before)
    for samples in gap:
        assert [s.key for s in samples] == ["h2s", "status"]
        assert all(s.quality is Quality.BAD and s.value is None for s in samples)
        assert {s.reason for s in samples} <= {"modbus.disconnected", "modbus.timeout"}
    assert all(s.quality is Quality.GOOD for s in recovered)
    assert stats.reconnects >= 1
    assert stats.connected
    states = [e["event"] for e in logs if e["event"] in ("unavailable", "back")]
    assert states == ["unavailable", "back"]


class HalfFrameServer:
    """Answers Modbus TCP read-holding requests by hand; the first ``bad_connections``
    connections get half a response and then a closed socket (or silence, with ``hang``)."""

    def __init__(self, *, bad_connections: int = 1, hang: bool = False) -> None:
        self.bad_connections = bad_connections
        self.hang = hang
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HalfFrameServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        bad = self.connections <= self.bad_connections
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                function, address, count = struct.unpack(">BHH", pdu[:5])
                data = struct.pack(f">{count}H", *[(address + i) & 0xFFFF for i in range(count)])
                body = struct.pack(">BB", function, len(data)) + data
                frame = struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body
                if not bad:
                    writer.write(frame)
                    await writer.drain()
                    continue
                writer.write(frame[: len(frame) // 2])
                await writer.drain()
                if self.hang:
                    await asyncio.sleep(3600)
                break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


async def test_peer_closing_mid_frame_gives_bad_samples_then_reconnects() -> None:
    points = [ModbusPoint(key=f"r{i}", address=i) for i in range(3)]
    async with HalfFrameServer(bad_connections=1) as server:
        driver = ModbusDriver.from_url(
            f"modbus+tcp://127.0.0.1:{server.port}", timeouts=TIMEOUTS, **FAST_RECONNECT
        )
        plan = driver.plan(points)
        first = await bounded_read(driver, plan)
        second = await bounded_read(driver, plan)
        stats = driver.statistics()
        await driver.close()
    # "disconnected", not "timeout": the hang-up is noticed when it happens.
    assert {(s.quality, s.reason, s.value) for s in first} == {
        (Quality.BAD, "modbus.disconnected", None)
    }
    assert stats.timeouts == 0
    assert [s.value for s in second] == [0, 1, 2]
    assert server.connections == 2
    assert stats.reconnects == 1
    assert "connection lost" in (stats.last_error or "")


async def test_peer_going_silent_mid_frame_gives_a_timeout() -> None:
    points = [ModbusPoint(key="r0", address=0)]
    async with HalfFrameServer(bad_connections=10, hang=True) as server:
        driver = ModbusDriver.from_url(
            f"modbus+tcp://127.0.0.1:{server.port}", timeouts=TIMEOUTS, **FAST_RECONNECT
        )
        [sample] = await bounded_read(driver, driver.plan(points))
        stats = driver.statistics()
        await driver.close()
    assert (sample.quality, sample.reason) == (Quality.BAD, "modbus.timeout")
    assert stats.timeouts == 1


def profile_with(points: list[tuple[str, int]], **modbus: Any) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "id": "flaky",
            "manufacturer": "Test",
            "model": "Refuser",
            "kind": "test",
            "protocol": "modbus",
            "modbus": {"unit_id": 1, **modbus},
            "points": [
                {
                    "id": key,
                    "quantity": "status",
                    "unit": "1",
                    "modbus": {"table": "holding", "address": address, "type": "uint16"},
                    "simulate": {"model": "steady", "base": address},
                }
                for key, address in points
            ],
        }
    )


@pytest.fixture
async def refusing_device() -> AsyncIterator[tuple[ModbusSimServer, list[ModbusPoint]]]:
    """Holding 0..9; the device refuses any read touching register 5 (exception 02)."""
    profile = profile_with([(f"r{a}", a) for a in range(10)], forbidden_ranges=[("holding", 5, 5)])
    device = sim(profile, unit_id=1)
    async with ModbusSimServer([device]) as server:
        yield server, specs(device)


async def test_exception_marks_exactly_the_refused_points_and_is_remembered(
    refusing_device: tuple[ModbusSimServer, list[ModbusPoint]],
) -> None:
    server, points = refusing_device
    async with ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver:
        plan = driver.plan(points)
        assert plan.requests == 1  # the driver does not know about register 5 yet
        first = by_key(await driver.read(plan))
        after_first = driver.statistics()
        second = by_key(await driver.read(plan))
        after_second = driver.statistics()
    for samples in (first, second):
        bad = {k for k, s in samples.items() if s.quality is Quality.BAD}
        assert bad == {"r5"}
        assert (samples["r5"].reason, samples["r5"].status_code) == ("modbus.exception.2", 2)
        assert all(samples[f"r{a}"].value == a for a in range(10) if a != 5)
    first_failures = after_first.extra["exceptions"]
    second_failures = after_second.extra["exceptions"] - first_failures
    assert first_failures == 4  # 0..9, 5..9, 5..6, 5
    assert second_failures == 1  # only r5, read alone
    assert after_second.requests - after_first.requests == 3  # 0..4, 5, 6..9
    assert after_second.extra["refused_spans"] == 4


async def test_device_with_a_shorter_read_limit_is_learned_without_losing_values() -> None:
    device = sim(profile_with([(f"r{a}", a) for a in range(20)], max_block_registers=8), unit_id=1)
    async with (
        ModbusSimServer([device]) as server,
        ModbusDriver.from_url(server.endpoint, timeouts=TIMEOUTS) as driver,
    ):
        plan = driver.plan(specs(device))
        failures = []
        for _ in range(5):
            before = driver.statistics().extra["exceptions"]
            samples = await driver.read(plan)
            assert [s.value for s in samples] == list(range(20))
            failures.append(driver.statistics().extra["exceptions"] - before)
    assert failures[0] > 0
    assert failures == sorted(failures, reverse=True)
    assert failures[-1] == 0
