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
from protocols.modbus.endpoint import parse_url
from simulators.modbus.unit import ProfileUnit
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


class SetClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def profile_unit(server: ModbusSimServer) -> ProfileUnit:
    unit = server.units[0]
    assert isinstance(unit, ProfileUnit)
    return unit


class Poller:
    """Reads ``plan`` at given clock times; each poll returns (requests, exceptions) it cost and
    the refused spans counted after it, and checks every value came back right."""

    def __init__(self, driver: ModbusDriver, clock: SetClock, points: list[ModbusPoint]) -> None:
        self.driver, self.clock, self.points = driver, clock, points
        self.plan = driver.plan(points)

    async def at(self, t: float, *, bad: frozenset[str] = frozenset()) -> tuple[int, int, int]:
        self.clock.now = 1000.0 + t
        before = self.driver.statistics()
        samples = by_key(await bounded_read(self.driver, self.plan))
        after = self.driver.statistics()
        assert {k for k, s in samples.items() if s.quality is Quality.BAD} == bad
        assert all(samples[p.key].value == p.address for p in self.points if p.key not in bad)
        return (
            after.requests - before.requests,
            after.extra["exceptions"] - before.extra["exceptions"],
            after.extra["refused_spans"],
        )


@pytest.fixture
async def gap_refusing_device() -> AsyncIterator[tuple[ModbusSimServer, list[ModbusPoint]]]:
    """Holding 0..4 and 6..9; register 5, between them and no point's, is refused (exception 02)."""
    profile = profile_with(
        [(f"r{a}", a) for a in range(10) if a != 5], forbidden_ranges=[("holding", 5, 5)]
    )
    device = sim(profile, unit_id=1)
    async with ModbusSimServer([device]) as server:
        yield server, specs(device)


async def test_a_refused_span_is_tried_again_after_refusal_retry_s_and_merged_once_accepted(
    gap_refusing_device: tuple[ModbusSimServer, list[ModbusPoint]],
) -> None:
    server, points = gap_refusing_device
    clock, retry_s = SetClock(), 60.0
    endpoint = parse_url(server.endpoint)
    driver = ModbusDriver(endpoint, timeouts=TIMEOUTS, refusal_retry_s=retry_s, clock=clock)
    async with driver:
        poll = Poller(driver, clock, points)
        assert poll.plan.requests == 1  # register 5 bridged (max_gap 10): the device refuses it
        learned = await poll.at(0.0)
        avoided = await poll.at(retry_s - 0.1)
        clock.now = 1000.0 + retry_s
        forgotten = driver.statistics().extra["refused_spans"]  # due for a retry: none avoided
        retried = await poll.at(retry_s)
        profile_unit(server).forbidden.clear()  # reconfigured: register 5 reads now
        still_avoided = await poll.at(2 * retry_s - 0.1)
        merged = await poll.at(2 * retry_s)
        steady = await poll.at(2 * retry_s + 1.0)
        replanned = driver.plan(points)
        refused = driver.refused_spans
    # 0..9, 4..9 and 4..6 refused; 0..3, 4, 6 and 7..9 read: 7 requests, 3 exceptions, 3 spans.
    assert learned == (7, 3, 3)
    assert avoided == (2, 0, 3)  # 0..4 and 6..9
    assert forgotten == 0
    assert retried == learned  # the merged block tried again, refused again, remembered again
    assert still_avoided == (2, 0, 3)  # remembered anew at the retry: not asked before its time
    assert merged == steady == (1, 0, 0)  # back to the one merged block
    assert replanned.requests == 1
    assert refused == frozenset()


async def test_a_point_refused_alone_keeps_its_refusal_fresh_and_is_forgotten_once_answered(
    refusing_device: tuple[ModbusSimServer, list[ModbusPoint]],
) -> None:
    server, points = refusing_device
    clock, retry_s = SetClock(), 60.0
    endpoint = parse_url(server.endpoint)
    driver = ModbusDriver(endpoint, timeouts=TIMEOUTS, refusal_retry_s=retry_s, clock=clock)
    r5 = frozenset({"r5"})
    async with driver:
        poll = Poller(driver, clock, points)
        learned = await poll.at(0.0, bad=r5)
        refreshed = await poll.at(retry_s - 1.0, bad=r5)
        # 0..9, 5..9 and 5..6 are due again, but r5 alone was refused a second ago: the merged
        # block would be refused for certain, so it is not asked for.
        expired = await poll.at(retry_s, bad=r5)
        profile_unit(server).forbidden.clear()
        with capture_logs() as logs:
            answered = await poll.at(retry_s + 1.0)
        merged = await poll.at(retry_s + 2.0)
    assert learned == (7, 4, 4)  # 0..9, 5..9, 5..6, 5 refused; 0..4, 6, 7..9 read
    assert refreshed == (3, 1, 4)  # 0..4, 5 (refused again, remembered anew), 6..9
    assert expired == (3, 1, 1)
    assert answered == (3, 0, 0)  # r5 answered alone: its refusal forgotten at once
    assert merged == (1, 0, 0)
    assert [(e["event"], e["first"], e["last"]) for e in logs] == [("refused_block_accepted", 5, 5)]


async def test_in_real_time_a_tiny_refusal_retry_s_brings_back_the_merged_read(
    gap_refusing_device: tuple[ModbusSimServer, list[ModbusPoint]],
) -> None:
    """The same in real time, with ``refusal_retry_s`` tiny: the device accepts register 5
    again, and within a bounded wait the driver reads everything in one block."""
    server, points = gap_refusing_device
    async with ModbusDriver.from_url(
        server.endpoint, timeouts=TIMEOUTS, refusal_retry_s=0.2
    ) as driver:
        plan = driver.plan(points)
        await bounded_read(driver, plan)
        learned = driver.statistics().extra["exceptions"]
        profile_unit(server).forbidden.clear()
        cost = 0
        async with asyncio.timeout(10):
            while cost != 1:
                await asyncio.sleep(0.05)
                before = driver.statistics().requests
                samples = await bounded_read(driver, plan)
                cost = driver.statistics().requests - before
        stats = driver.statistics()
    assert learned == 3  # 0..9, 4..9, 4..6
    assert [s.value for s in samples] == [p.address for p in points]
    assert stats.extra["refused_spans"] == 0
