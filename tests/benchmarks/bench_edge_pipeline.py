"""Edge pipeline throughput and a running agent's memory.

    python tests/benchmarks/bench_edge_pipeline.py [--quick]

1. ``readings_per_s``: driver samples of 1,000 points through normalization + quality checks
   (edge_agent.normalize) + outbox commit (edge_agent.outbox), on one core, one poll cycle
   (1,000 samples) at a time, committed at the end of each run. The raw ceiling is SQLite's own
   executemany of the same number of rows (WAL, synchronous=NORMAL) in the same run.
2. ``agent_rss_mb``: a real ``hse-edge run`` process polling 1,000 simulated float32 points
   (20 Modbus units x 50 points, one simulator process, 1 s poll), its peak resident memory
   (VmHWM) after it has polled for a while. Target <= 120 MB.

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from device_profiles import DeviceEntry, DeviceProfile, resolve_device  # noqa: E402
from edge_agent.config import QualityConfig  # noqa: E402
from edge_agent.normalize import PointChannel  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.pipeline import Pipeline  # noqa: E402
from protocols.types import Quality, Sample  # noqa: E402
from tests.support.ports import free_port, wait_port  # noqa: E402
from tests.support.procs import Child  # noqa: E402

POINTS = 1000
POINTS_PER_UNIT = 50


def bench_profile() -> dict[str, object]:
    """A 50-point gas controller: float32 CDAB input registers, 0-100 ppm, limits 10/20."""
    return {
        "schema_version": 1,
        "id": "bench-ctrl50",
        "manufacturer": "Bench",
        "model": "50-channel controller",
        "kind": "gas_controller",
        "protocol": "modbus",
        "modbus": {"byte_order": "CDAB", "max_block_registers": 125, "max_gap": 4},
        "points": [
            {
                "id": f"ch{i:02d}",
                "quantity": "gas.h2s",
                "unit": "ppm",
                "range": [0, 100],
                "resolution": 0.1,
                "modbus": {"table": "input", "address": 2 * i, "type": "float32"},
                "alarms": {"h": {"value": 10}, "hh": {"value": 20}, "deadband": 0.5},
                "simulate": {"model": "steady", "base": 2.0, "noise": 0.2},
            }
            for i in range(POINTS_PER_UNIT)
        ],
    }


def make_channels() -> list[PointChannel]:
    profile = DeviceProfile.model_validate(bench_profile())
    channels = []
    quality = QualityConfig()
    for unit in range(POINTS // POINTS_PER_UNIT):
        entry = DeviceEntry(
            id=f"ctrl-{unit}", profile=profile.id, url="modbus+tcp://127.0.0.1:1", unit_id=unit + 1
        )
        device = resolve_device(entry, profile)
        for point in device.points:
            channels.append(
                PointChannel.for_point(f"bench/{entry.id}/{point.point_id}", point, quality)
            )
    return channels


def make_cycles(keys: list[str], cycles: int) -> list[list[Sample]]:
    rng = random.Random(7)
    t0 = time.time() - cycles
    out = []
    for c in range(cycles):
        ts = t0 + c
        out.append(
            [Sample(k, 2.0 + rng.gauss(0, 0.2), Quality.GOOD, ts, source_ts=ts) for k in keys]
        )
    return out


async def run_pipeline(folder: Path, cycles: list[list[Sample]]) -> float:
    channels = make_channels()
    by_key = {f"{c.point_id.split('/')[1]}/{c.point_id.split('/')[2]}": c for c in channels}
    outbox = await Outbox.open(folder / "outbox.db")
    pipeline = Pipeline(by_key, [outbox.add_readings])
    try:
        start = time.perf_counter()
        for samples in cycles:
            records = pipeline.process(samples)
            await outbox.add_readings(records)
        await outbox.flush()
        elapsed = time.perf_counter() - start
    finally:
        await outbox.close()
    return sum(len(c) for c in cycles) / elapsed


def raw_sqlite(folder: Path, rows: int) -> float:
    db = sqlite3.connect(folder / "raw.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE r (seq INTEGER PRIMARY KEY, point TEXT, value REAL, quality TEXT, ts REAL, rts REAL)"
    )
    data = [
        (i, f"bench/ctrl-{i % 20}/ch{i % 50:02d}", 2.0, "good", 1.0 * i, 1.0 * i)
        for i in range(rows)
    ]
    start = time.perf_counter()
    for i in range(0, rows, 10_000):
        db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)", data[i : i + 10_000])
        db.commit()
    elapsed = time.perf_counter() - start
    db.close()
    return rows / elapsed


def rss_of(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, kb, _ = line.split()
            values[key] = int(kb) / 1024
    return values["VmRSS:"], values["VmHWM:"]


def agent_rss(folder: Path, run_s: float) -> dict[str, float]:
    profiles = folder / "profiles"
    profiles.mkdir()
    (profiles / "bench-ctrl50.yaml").write_text(yaml.safe_dump(bench_profile()), encoding="utf-8")
    sim_port, status_port = free_port(), free_port()
    devices = [
        {"id": f"ctrl-{u}", "profile": "bench-ctrl50", "url": f"modbus+tcp://127.0.0.1:{sim_port}", "unit_id": u + 1,
         "poll_interval_s": 1.0, "timeout_s": 0.8}
        for u in range(POINTS // POINTS_PER_UNIT)
    ]  # fmt: skip
    plant = {
        "plant_id": "bench",
        "agent_id": "bench-agent",
        "profiles_dirs": [str(profiles)],
        "outbox": {"path": str(folder / "agent-outbox.db")},
        "status": {"port": status_port},
        "devices": devices,
    }
    config = folder / "plant.yaml"
    config.write_text(yaml.safe_dump(plant), encoding="utf-8")
    sim = Child.python(
        "simulators", "--profiles-dir", str(profiles), "run", str(config), "--scenario", "none",
        log=folder / "sim.log",
    )  # fmt: skip
    agent = None
    try:
        wait_port(sim_port, timeout_s=30)
        agent = Child.python("edge_agent", "run", "--config", str(config), log=folder / "agent.log")
        wait_port(status_port, timeout_s=30)
        samples = []
        deadline = time.monotonic() + run_s
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if not agent.alive():
                raise RuntimeError(f"agent died: {agent.output()[-2000:]}")
            samples.append(rss_of(agent.pid))
        with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/status", timeout=10) as resp:
            status = json.load(resp)
        polls = sum(d["polls"] for d in status.get("devices", []))
        readings = (status.get("pipeline") or {}).get("readings_out", 0)
        return {
            "agent_rss_mb": round(samples[-1][0], 1),
            "agent_peak_rss_mb": round(max(h for _, h in samples), 1),
            "agent_polls": polls,
            "agent_readings": readings,
            "agent_run_s": run_s,
        }
    finally:
        if agent is not None:
            agent.stop()
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="under 60 s")
    parser.add_argument(
        "--skip-agent", action="store_true", help="only the in-process pipeline figure"
    )
    args = parser.parse_args()
    cycles_n = 30 if args.quick else 200
    repeats = 3 if args.quick else 5
    keys = [
        f"ctrl-{u}/ch{i:02d}"
        for u in range(POINTS // POINTS_PER_UNIT)
        for i in range(POINTS_PER_UNIT)
    ]
    cycles = make_cycles(keys, cycles_n)
    rates, ceilings = [], []
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        for r in range(repeats + 1):
            folder = Path(tmp) / f"run{r}"
            folder.mkdir()
            rate = asyncio.run(run_pipeline(folder, cycles))
            ceiling = raw_sqlite(folder, cycles_n * POINTS)
            if r:  # the first run is the warm-up
                rates.append(rate)
                ceilings.append(ceiling)
        result: dict[str, object] = {
            "benchmark": "edge_pipeline",
            "mode": "quick" if args.quick else "full",
            "points": POINTS,
            "readings_per_run": cycles_n * POINTS,
            "repeats": repeats,
            "readings_per_s": round(statistics.median(rates)),
            "target_readings_per_s": 100_000,
            "raw_sqlite_rows_per_s": round(statistics.median(ceilings)),
            "ratio_to_raw_sqlite": round(statistics.median(rates) / statistics.median(ceilings), 3),
        }
        if not args.skip_agent:
            agent_dir = Path(tmp) / "agent"
            agent_dir.mkdir()
            result.update(agent_rss(agent_dir, 15.0 if args.quick else 60.0))
            result["target_agent_rss_mb"] = 120
    result["cpu_count"] = os.cpu_count()
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
