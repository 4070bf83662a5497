"""The agent SIGKILLed: its heartbeat stops and the safety PLC's watchdog trips the outputs to safe.

Everything is a real process: the gas detector simulator, the PLC simulator and ``hse-edge run``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from device_profiles import Catalog, DeviceEntry, resolve_device
from protocols import Quality, Timeouts, open_driver
from tests.support.ports import free_port, wait_port
from tests.support.procs import Child

WATCHDOG_S = 1.5


async def read_plc(url: str, points: list[str]) -> dict[str, object]:
    plc = resolve_device(
        DeviceEntry(id="plc", profile="plc-safety-mb", url=url), Catalog().profile("plc-safety-mb")
    )
    specs = [plc.point(p).spec for p in points]
    driver = open_driver(url, timeouts=Timeouts(connect_s=2, io_s=1))
    try:
        await driver.connect()
        samples = await driver.read(driver.plan(specs))  # type: ignore[attr-defined]
    finally:
        await driver.close()
    assert all(s.quality is Quality.GOOD for s in samples), samples
    return {s.key: s.value for s in samples}


async def test_sigkilled_agent_lets_the_plc_watchdog_trip_to_safe(tmp_path: Path) -> None:
    gas_port, plc_port, status_port = free_port(), free_port(), free_port()
    plc_url = f"modbus+tcp://127.0.0.1:{plc_port}"
    config = {
        "plant_id": "plant-w",
        "agent_id": "agent-w",
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "status": {"port": status_port},
        "devices": [{"id": "gas-1", "profile": "gd-h2s-mb", "unit_id": 1, "url": f"modbus+tcp://127.0.0.1:{gas_port}",
                     "poll_interval_s": 0.2, "timeout_s": 0.15}],
        "plcs": [{"id": "plc-1", "profile": "plc-safety-mb", "url": plc_url}],
        "interlocks": {
            "outputs": [{"plc": "plc-1", "point": "fan_run", "safe": 1}],
            "heartbeat": {"plc": "plc-1", "point": "heartbeat", "interval_s": 0.25},
            "rules": [{"id": "vent", "when": {"alarm": "plant-w/gas-1/h2s:hh"},
                       "then": {"plc": "plc-1", "point": "fan_run", "value": 1}, "otherwise": 0}],
        },
    }  # fmt: skip
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    gas = Child.python("simulators.modbus_server", "--profile", "gd-h2s-mb", "--unit-id", "1", "--port", str(gas_port),
                       log=tmp_path / "gas.log")  # fmt: skip
    plc = Child.python(
        "simulators.plc",
        "--port",
        str(plc_port),
        "--watchdog-s",
        str(WATCHDOG_S),
        log=tmp_path / "plc.log",
    )
    agent = None
    try:
        wait_port(gas_port, 20)
        wait_port(plc_port, 20)
        agent = Child.python("edge_agent", "run", "--config", str(path), log=tmp_path / "agent.log")
        wait_port(status_port, 30)
        # The agent drives the fan to "off" (no alarm) and keeps the watchdog fed.
        async with asyncio.timeout(20):
            while (await read_plc(plc_url, ["fan_run"]))["fan_run"] is not False:
                await asyncio.sleep(0.1)
        await asyncio.sleep(WATCHDOG_S * 2)
        state = await read_plc(plc_url, ["fan_run", "tripped"])
        assert state == {"fan_run": False, "tripped": False}, agent.output()[-3000:]

        agent.kill()  # SIGKILL: no goodbye, no last write
        async with asyncio.timeout(WATCHDOG_S * 4):
            while not (await read_plc(plc_url, ["tripped"]))["tripped"]:
                await asyncio.sleep(0.1)
        assert (await read_plc(plc_url, ["fan_run"]))["fan_run"] is True  # the fan's safe state
        assert "watchdog_trip" in plc.output()
    finally:
        if agent is not None:
            agent.stop()
        plc.stop()
        gas.stop()
