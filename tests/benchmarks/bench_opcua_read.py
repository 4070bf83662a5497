"""OPC UA plain-read throughput of OpcUaDriver against the simulator, beside raw asyncua.

Both sides share one process and one event loop (the server too), so the ratio to the raw
asyncua read of the same nodes is the driver's overhead (planning, status mapping, scaling,
Sample objects). Prints one JSON object as its last line.

    .venv/bin/python -m tests.benchmarks.bench_opcua_read --quick    # under 60 s
    .venv/bin/python -m tests.benchmarks.bench_opcua_read            # full
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections.abc import Awaitable, Callable

from asyncua import ua
from asyncua.client.client import Client

from device_profiles import DeviceEntry, DeviceProfile
from protocols import Timeouts
from protocols.opcua import OpcUaPoint
from protocols.opcua.driver import OpcUaDriver
from simulators.device import SimDevice
from simulators.opcua_server import OpcUaSimServer


def profile_with(points: int) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "id": "bench-ua",
            "manufacturer": "Bench",
            "model": "many points",
            "kind": "bench",
            "protocol": "opcua",
            "points": [
                {
                    "id": f"p{i}",
                    "quantity": "pressure",
                    "unit": "kPa",
                    "range": [0, 1000],
                    "opcua": {"node_id": f"ns=2;s={{device}}.P{i}", "scale": 0.1},
                    "simulate": {"model": "steady", "base": 100.0 + i, "noise": 0.5},
                }
                for i in range(points)
            ],
        }
    )


async def rate(call: Callable[[], Awaitable[object]], seconds: float) -> float:
    """Calls per second of ``call`` over about ``seconds``."""
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        await call()
        count += 1
    return count / elapsed


async def run(points: int, repeats: int, seconds: float) -> dict[str, object]:
    profile = profile_with(points)
    device = SimDevice(DeviceEntry(id="dev", profile=profile.id, url="opc.tcp://x"), profile)
    async with OpcUaSimServer([device], update_interval_s=0.5) as server:
        specs = [
            OpcUaPoint(key=f"p{i}", node_id=f"ns=2;s=dev.P{i}", scale=0.1) for i in range(points)
        ]
        driver = OpcUaDriver.from_url(
            server.endpoint, timeouts=Timeouts(5, 5), max_nodes_per_read=points
        )
        raw = Client(server.endpoint, timeout=5)
        await driver.connect()
        await raw.connect()
        try:
            plan = driver.plan(specs)
            params = ua.ReadParameters()
            params.NodesToRead = [
                ua.ReadValueId(
                    NodeId=ua.NodeId.from_string(p.node_id), AttributeId=ua.AttributeIds.Value
                )
                for p in specs
            ]

            async def driver_read() -> None:
                samples = await driver.read(plan)
                assert len(samples) == points

            async def raw_read() -> None:
                await raw.uaclient.read(params)

            for call in (driver_read, raw_read):  # warm up
                await rate(call, min(1.0, seconds))
            driver_rates, raw_rates = [], []
            for _ in range(repeats):  # interleaved, so load changes hit both alike
                driver_rates.append(await rate(driver_read, seconds))
                raw_rates.append(await rate(raw_read, seconds))
            bad = sum(1 for s in await driver.read(plan) if s.quality.value != "good")
        finally:
            await driver.close()
            await raw.disconnect()
    driver_rps = statistics.median(driver_rates)
    raw_rps = statistics.median(raw_rates)
    return {
        "benchmark": "opcua_read",
        "points_per_read": points,
        "repeats": repeats,
        "seconds_per_repeat": seconds,
        "driver_reads_per_s": round(driver_rps, 1),
        "driver_values_per_s": round(driver_rps * points),
        "raw_asyncua_reads_per_s": round(raw_rps, 1),
        "raw_asyncua_values_per_s": round(raw_rps * points),
        "ratio_to_raw": round(driver_rps / raw_rps, 3),
        "bad_samples_in_last_read": bad,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke mode, under 60 s")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.quick:
        result = asyncio.run(run(points=200, repeats=3, seconds=2.0))
    else:
        result = asyncio.run(run(points=1000, repeats=5, seconds=5.0))
    result["mode"] = "quick" if args.quick else "full"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
