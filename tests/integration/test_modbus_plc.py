"""The safety PLC over real Modbus TCP: interlocks driven by the driver, watchdog trip and reset."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocols import Quality, Timeouts, WriteError
from protocols.modbus import DataType, ModbusPoint, Table
from protocols.modbus.driver import ModbusDriver
from simulators.plc import SafetyPlcSim
from tests.support.ports import free_port
from tests.support.procs import Child

TIMEOUTS = Timeouts(connect_s=2.0, io_s=0.5)
WATCHDOG_S = 1.5
HEARTBEAT_S = 0.1


async def beat(driver: ModbusDriver, point: ModbusPoint, period_s: float) -> None:
    counter = 0
    while True:
        counter = (counter + 1) % 65536
        await driver.write(point, counter)
        await asyncio.sleep(period_s)


@contextlib.asynccontextmanager
async def heartbeat(driver: ModbusDriver, point: ModbusPoint) -> AsyncIterator[None]:
    task = asyncio.create_task(beat(driver, point, HEARTBEAT_S), name="heartbeat")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_interlocks_watchdog_trip_and_reset_over_tcp() -> None:
    async with SafetyPlcSim(watchdog_s=WATCHDOG_S) as plc:
        points = {
            pid: plc.point(pid)
            for pid in ("fan_run", "beacon", "fan_speed_pct", "reset", "tripped", "heartbeat")
        }
        async with ModbusDriver.from_url(plc.endpoint, timeouts=TIMEOUTS) as driver:
            plan = driver.plan(
                [points["fan_run"], points["beacon"], points["fan_speed_pct"], points["tripped"]]
            )
            async with heartbeat(driver, points["heartbeat"]):
                await driver.write(points["fan_run"], True)
                await driver.write(points["fan_speed_pct"], 80)
                await asyncio.sleep(WATCHDOG_S * 1.2)  # alive past one watchdog period
                running = {s.key: s.value for s in await driver.read(plan)}
                assert not plc.tripped
                await driver.write(points["fan_run"], False)
            async with asyncio.timeout(WATCHDOG_S * 10):
                while True:  # what the agent sees: poll the PLC until it says tripped
                    tripped = {s.key: s for s in await driver.read(plan)}
                    if tripped["tripped"].value is True:
                        break
                    await asyncio.sleep(0.02)
            last_heartbeat = plc.unit.last_heartbeat_change
            with pytest.raises(WriteError, match="exception 4") as refused:
                await driver.write(points["fan_run"], False)
            with pytest.raises(WriteError, match="exception 4"):
                await driver.write(points["reset"], True)  # heartbeat still stale
            async with heartbeat(driver, points["heartbeat"]):
                await asyncio.sleep(3 * HEARTBEAT_S)
                await driver.write(points["reset"], True)
                assert not plc.tripped
                await driver.write(points["fan_run"], False)
                after_reset = {s.key: s.value for s in await driver.read(plan)}
    assert running == {"fan_run": True, "beacon": False, "fan_speed_pct": 80, "tripped": False}
    assert all(s.quality is Quality.GOOD for s in tripped.values())
    assert {k: s.value for k, s in tripped.items()} == {
        "fan_run": True,
        "beacon": True,
        "fan_speed_pct": 100,
        "tripped": True,
    }
    assert not refused.value.retriable
    assert after_reset == {"fan_run": False, "beacon": True, "fan_speed_pct": 100, "tripped": False}
    changes = plc.changes
    assert [c.t for c in changes] == sorted(c.t for c in changes)
    trip = [c for c in changes if c.cause == "trip"]
    assert {c.point_id for c in trip} >= {"fan_run", "beacon", "fan_speed_pct"}
    # Tripped only once the heartbeat had been still for a whole watchdog period.
    assert trip[0].t - last_heartbeat >= WATCHDOG_S
    fan = [(c.value, c.cause) for c in changes if c.point_id == "fan_run"]
    assert fan == [(True, "write"), (False, "write"), (True, "trip"), (False, "write")]


async def test_plc_program_trips_without_a_heartbeat(tmp_path: Path) -> None:
    port = free_port()
    child = Child.python(
        "simulators.plc", "--port", str(port), "--watchdog-s", "0.3", log=tmp_path / "plc.log"
    )
    try:
        driver = ModbusDriver.from_url(
            f"modbus+tcp://127.0.0.1:{port}",
            timeouts=TIMEOUTS,
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
        )
        tripped = ModbusPoint(
            key="tripped", table=Table.DISCRETE_INPUT, address=0, dtype=DataType.BOOL
        )
        plan = driver.plan([tripped])
        async with asyncio.timeout(20):
            while True:
                [sample] = await driver.read(plan)
                if sample.value is True:
                    break
                await asyncio.sleep(0.05)
        await driver.close()
    finally:
        child.stop()
    assert "safety PLC on modbus+tcp://127.0.0.1:" in (tmp_path / "plc.log").read_text()


@pytest.mark.parametrize("module", ["simulators.plc", "simulators.modbus_server"])
def test_programs_explain_themselves(module: str, tmp_path: Path) -> None:
    child = Child.python(module, "--help", log=tmp_path / "help.log")
    assert child.proc.wait(timeout=30) == 0
    child.stop()
    assert "usage: python -m " + module in (tmp_path / "help.log").read_text()
