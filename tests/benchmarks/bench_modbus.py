"""Modbus read throughput: planned block reads versus one request per point, and the raw ceiling.

The simulator serves N float32 points (input registers 0, 2, 4, ...) on loopback TCP in this
process; the driver reads them

- *planned*: ``driver.plan(points)`` once, then ``driver.read(plan)`` (125-register blocks);
- *per point*: one plan, hence one request, per point;
- *raw ceiling*: a plain pymodbus client reading the same registers in 125-register blocks from
  the same server, no decoding, no samples.

The simulator computes every value at the moment of each request (``SimDevice.wire_value``), so
its per-value cost bounds the planned reads. The same three figures are also measured against a
*static* server (the same registers, computed once) to show what the driver itself achieves when
the peer answers at wire speed; the headline figures are the simulator's.

Each figure is the median of several timed repeats after a warm-up (``time.perf_counter``).

    python tests/benchmarks/bench_modbus.py --quick     # 1,000 points, well under 60 s
    python tests/benchmarks/bench_modbus.py             # 100, 1,000 and 10,000 points

The last line printed is one JSON object with the figures and parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pymodbus.client import AsyncModbusTcpClient

from device_profiles import DeviceEntry, DeviceProfile, resolve_device
from protocols import Quality, Timeouts
from protocols.modbus import ModbusPoint, Table
from protocols.modbus.driver import ModbusDriver
from simulators.device import SimDevice
from simulators.modbus import ProfileUnit, UnitServer
from simulators.modbus.unit import Items
from simulators.modbus_server import ModbusSimServer

BLOCK_REGISTERS = 125
TARGET_SPEEDUP = 20


def profile_of(n: int) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "id": f"bench-{n}",
            "manufacturer": "Bench",
            "model": "Float32 x N",
            "kind": "benchmark",
            "protocol": "modbus",
            "modbus": {"unit_id": 1, "byte_order": "CDAB"},
            "points": [
                {
                    "id": f"p{i}",
                    "quantity": "pressure",
                    "unit": "kPa",
                    "modbus": {"table": "input", "address": 2 * i, "type": "float32"},
                    "simulate": {"model": "steady", "base": 100.0 + i % 50},
                }
                for i in range(n)
            ],
        }
    )


async def time_once(run: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


def check_good(samples: list[Any], n: int) -> None:
    bad = [s for s in samples if s.quality is not Quality.GOOD]
    if len(samples) != n or bad:
        raise SystemExit(
            f"benchmark read went wrong: {len(samples)} samples, {len(bad)} bad: {bad[:3]}"
        )


class StaticUnit:
    """The profile's registers computed once, served as they are (a peer at wire speed)."""

    def __init__(self, unit: ProfileUnit, registers: int) -> None:
        self.unit_id = unit.unit_id
        values = unit.values(Table.INPUT, 0, registers)
        self._registers = [int(v) for v in values]

    def check_read(self, table: Table, address: int, count: int) -> int | None:
        ok = table is Table.INPUT and address + count <= len(self._registers) and count <= 125
        return None if ok else 2

    def values(self, table: Table, address: int, count: int) -> Items:
        return self._registers[address : address + count]

    def write(self, table: Table, address: int, values: Items) -> int | None:
        return 1


async def measure(n: int, *, static: bool, rounds: int, fast_repeats: int) -> dict[str, Any]:
    """Time the three ways in interleaved rounds, so a busy neighbour slows them all alike."""
    profile = profile_of(n)
    entry = DeviceEntry(id="bench", profile=profile.id, url="modbus+sim://", unit_id=1)
    device = SimDevice(entry=entry, profile=profile)
    points: list[ModbusPoint] = [p.spec for p in resolve_device(entry, profile).points]  # type: ignore[misc]
    server = (
        UnitServer([StaticUnit(ProfileUnit(device), 2 * n)])
        if static
        else ModbusSimServer([device])
    )
    registers = 2 * n
    starts = range(0, registers, BLOCK_REGISTERS)
    async with server:
        driver = ModbusDriver.from_url(server.endpoint, timeouts=Timeouts(connect_s=5, io_s=5))
        client = AsyncModbusTcpClient(
            "127.0.0.1", port=server.port, timeout=5, retries=0, reconnect_delay=0
        )
        await client.connect()
        try:
            await driver.connect()
            plan = driver.plan(points)
            single_plans = [driver.plan([p]) for p in points]

            async def planned() -> None:
                check_good(await driver.read(plan), n)

            async def per_point() -> None:
                samples = []
                for single in single_plans:
                    samples.extend(await driver.read(single))
                check_good(samples, n)

            async def raw() -> None:
                for start in starts:
                    count = min(BLOCK_REGISTERS, registers - start)
                    response = await client.read_input_registers(start, count=count, device_id=1)
                    if response.isError() or len(response.registers) != count:
                        raise SystemExit(f"raw read failed at {start}: {response}")

            for warm in (planned, raw, per_point):  # warm-up: connections, caches, allocator
                await warm()
            planned_s: list[float] = []
            per_point_s: list[float] = []
            raw_s: list[float] = []
            for _ in range(rounds):
                per_point_s.append(await time_once(per_point))
                for _ in range(fast_repeats):
                    planned_s.append(await time_once(planned))
                    raw_s.append(await time_once(raw))
        finally:
            client.close()
            await driver.close()

    planned_rate = n / statistics.median(planned_s)
    per_point_rate = n / statistics.median(per_point_s)
    raw_rate = n / statistics.median(raw_s)
    return {
        "points": n,
        "planned_points_per_s": round(planned_rate),
        "per_point_points_per_s": round(per_point_rate),
        "speedup": round(planned_rate / per_point_rate, 1),
        "raw_ceiling_points_per_s": round(raw_rate),
        "ratio_to_ceiling": round(planned_rate / raw_rate, 3),
        "planned_requests_per_read": plan.requests,
        "raw_requests_per_read": len(starts),
        "planned_read_ms_median": round(1000 * statistics.median(planned_s), 3),
        "per_point_read_ms_median": round(1000 * statistics.median(per_point_s), 3),
        "planned_timings": len(planned_s),
        "per_point_timings": len(per_point_s),
    }


async def main_async(quick: bool) -> dict[str, Any]:
    sizes = [1000] if quick else [100, 1000, 10_000]
    results: dict[str, dict[int, dict[str, Any]]] = {"simulator": {}, "static": {}}
    for n in sizes:
        rounds = 7 if quick or n >= 10_000 else 11
        for server in ("simulator", "static"):
            result = await measure(n, static=server == "static", rounds=rounds, fast_repeats=5)
            print(json.dumps({"server": server, **result}), flush=True)
            results[server][n] = result
    headline = results["simulator"][1000]
    static = results["static"][1000]
    return {
        "benchmark": "modbus_read",
        "mode": "quick" if quick else "full",
        "server": "simulator (values computed per request)",
        **headline,
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": headline["speedup"] >= TARGET_SPEEDUP,
        "static_server": {
            k: static[k]
            for k in (
                "planned_points_per_s",
                "per_point_points_per_s",
                "speedup",
                "raw_ceiling_points_per_s",
                "ratio_to_ceiling",
            )
        },
        "by_points": None
        if quick
        else {server: {str(n): r for n, r in by_n.items()} for server, by_n in results.items()},
        "transport": "modbus+tcp loopback, client and server in one process",
        "value_type": "float32 CDAB, input registers",
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 points only (under 60 s)")
    args = parser.parse_args()
    started = time.perf_counter()
    summary = asyncio.run(main_async(args.quick))
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    if not math.isfinite(summary["speedup"]):
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
