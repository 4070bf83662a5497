"""Backfill after a central outage: how fast a real agent drains its backlog, live data flowing.

    python tests/benchmarks/bench_backfill.py [--quick] [--rate 1000] [--outage-s S] [--repeats N]
                                              [--database sqlite|postgres]

Processes as deployed (tests/support/stack.py): central (``hse-central serve``), the simulators
(``hse-sim run``: Modbus controllers of 50 float32 points, together ``--rate`` readings/s at a
0.5 s poll) and an agent (``hse-edge run``). After a warm-up, each repeat stops central (SIGKILL)
for ``outage_s`` (quick: 20 s; full: 300 s), starts it again on the same port and measures:

- ``drain_s``: from central accepting connections again until nothing older than that moment is
  left in the agent's outbox (its status: ``oldest_unsent_ts``); split into ``first_ack_s`` (the
  agent's retry wait: it backs off while central is away, at most ``central.retry_max_s``) and
  ``drain_active_s`` (sending), with ``drain_records_per_s`` = backlog / drain_active_s;
- ``live_lag_max_s``: while the backlog drains (from the first ack), the age of the newest reading
  central holds for the plant (``/plants/{plant}/latest``), polled every 0.25 s: does live data
  ever wait behind the backlog?
- ``outage_over_drain`` = outage_s / drain_s (target >= 10).

At the end the agent is stopped cleanly (it reports what it produced), restarted without devices
until its outbox is empty, and central's ledger is checked: ``lost`` (seqs the agent used that
central lacks) and ``duplicates`` (records stored more than once); target 0 and 0. The ceiling,
measured in the same run against the same central, is central's own ingest rate for batches of
the agent's size posted one at a time over one connection (``ceiling_records_per_s``), so
``drain_vs_ceiling`` says whether the edge or central limits the drain. The agent's CPU share and
its poll overruns say whether the machine polls ``--rate`` with room to spare.

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from edge_agent.config import CentralConfig  # noqa: E402
from protocols.sync import AgentHealth  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.central import Seqs, batch, cli, encode, gzip_headers, reading  # noqa: E402
from tests.support.procs import wait_for  # noqa: E402
from tests.support.stack import (  # noqa: E402
    Stack,
    central_records,
    load_devices,
    load_profile,
    parse_ts,
)

BATCH_SIZE = 5000  # the agent's default central.batch_size
RETRY_MAX_S = CentralConfig.model_fields["retry_max_s"].default  # the agent runs with it
TARGET_RATIO = 10.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LagProbe:
    """Polls central's latest values of the plant and keeps the worst age of the newest one."""

    def __init__(self, stack: Stack) -> None:
        self.api = stack.central.api()
        self.plant = stack.plant_id
        self.worst_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-probe", daemon=True)

    def __enter__(self) -> LagProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.api.close()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                points = self.api.latest(self.plant)
            except httpx.HTTPError:
                continue
            stamps = [parse_ts(p["source_ts"]) for p in points if p["source_ts"]]
            if stamps:
                self.worst_s = max(self.worst_s, time.time() - max(stamps))


def one_outage(stack: Stack, outage_s: float) -> dict[str, float]:
    agent = stack.agent
    stack.central.stop(kill=True)
    time.sleep(outage_s)
    before = agent.status()
    stack.central.start()
    back_at = time.time()
    backlog = sum(before["outbox"]["backlog_records"].values())

    def acked() -> float | None:
        last = agent.status()["sync"]["last_success_ts"]
        return last if last is not None and last > back_at else None

    first_ack = wait_for(acked, timeout_s=120, interval_s=0.02, what="the first ack")
    with LagProbe(stack) as probe:
        wait_for(
            lambda: (agent.status()["outbox"]["oldest_unsent_ts"] or back_at + 1) > back_at,
            timeout_s=max(120.0, outage_s),
            interval_s=0.05,
            what="the backlog drained",
        )
        drained_at = time.time()
    drain_s = drained_at - back_at
    active_s = max(drained_at - first_ack, 1e-3)
    return {
        "outage_s": outage_s,
        "backlog_records": backlog,
        "drain_s": drain_s,
        "first_ack_s": first_ack - back_at,
        "drain_active_s": active_s,
        "drain_records_per_s": backlog / active_s,
        "live_lag_max_s": probe.worst_s,
        "outage_over_drain": outage_s / drain_s,
    }


def ceiling(url: str, token: str, agent: str, plant: str, points: int, batches: int) -> float:
    """Central's ingest of batches shaped like the agent's (``points`` points polled together,
    health attached), posted one at a time on one connection: what a sync client could get."""
    seqs = Seqs()
    start = datetime.now(UTC) - timedelta(minutes=10)
    bodies = []
    for n in range(batches):
        rows = []
        for i in range(BATCH_SIZE):
            poll = (n * BATCH_SIZE + i) // points  # the points of one poll share their time
            ts = start + timedelta(seconds=0.5 * poll)
            point = f"{plant}/ctrl-{i % points // 50:02d}/ch{i % 50:02d}"
            rows.append(reading(seqs, point, float(i % 50), ts))
        health = AgentHealth(ts=datetime.now(UTC), version="bench", backlog_records=n)
        bodies.append(encode(batch(agent, plant, batch_id=f"c{n}", health=health, readings=rows)))
    times = []
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        for body in bodies:
            t0 = time.perf_counter()
            r = client.post("/api/v1/ingest", content=body, headers=gzip_headers(token))
            r.raise_for_status()
            times.append(time.perf_counter() - t0)
    warm = times[len(times) // 5 :]  # the first fifth warms up connections and caches
    return BATCH_SIZE / statistics.median(warm)


def run(args: argparse.Namespace, workdir: Path, cleanup: ExitStack) -> dict[str, Any]:
    if args.database == "postgres":
        if postgres.admin_url() is None:
            raise SystemExit(f"--database postgres needs {postgres.ENV}")
        database_url = cleanup.enter_context(postgres.scratch_database("hse_bench"))
    else:
        database_url = f"sqlite:///{workdir / 'central.db'}"
    stack = Stack(workdir, database_url, plant_id="bench-plant", agent_id="bench-agent",
                  profiles=[load_profile()])  # fmt: skip
    devices = load_devices(args.rate, poll_s=0.5)
    try:
        stack.start_central()
        made = cli("agent", "add", "--plant", "ceiling-plant", "--agent-id", "ceiling",
                   database_url=database_url)  # fmt: skip
        ceiling_token = made.stdout.strip()
        stack.simulators("load", devices)
        agent = stack.agent
        agent.start(devices, outbox={"live_window_s": args.live_window_s})
        assert agent.child is not None
        started, cpu0 = time.time(), cpu_s(agent.child.pid)
        time.sleep(args.warmup_s)
        outages = [one_outage(stack, args.outage_s) for _ in range(args.repeats)]
        time.sleep(2.0)
        status = agent.status()
        elapsed, cpu = time.time() - started, cpu_s(agent.child.pid) - cpu0
        run_ = agent.stop()
        assert run_.final is not None
        agent.drain()
        records = central_records(database_url, stack.agent_id)
        ceiling_rps = ceiling(stack.central.url, ceiling_token, "ceiling", "ceiling-plant",
                              points=len(devices) * 50, batches=20 if args.quick else 60)  # fmt: skip
    finally:
        stack.close()

    final = run_.final
    used = set(range(1, final["last_seq"] + 1))
    stored = set(records.seqs)
    med = {k: statistics.median(o[k] for o in outages) for k in outages[0]}
    result = {
        "benchmark": "backfill",
        "mode": "quick" if args.quick else "full",
        "database": args.database,
        "rate_target_per_s": args.rate,
        "rate_achieved_per_s": round(final["readings_out"] / (elapsed + 1e-9), 1),
        "agent_cpu_pct": round(100 * cpu / elapsed, 1),
        "poll_overruns": sum(d["overruns"] for d in status["devices"]),
        "live_window_s": args.live_window_s,
        "retry_max_s": RETRY_MAX_S,
        "repeats": args.repeats,
        "outage_s": args.outage_s,
        "backlog_records": round(med["backlog_records"]),
        "drain_s": round(med["drain_s"], 2),
        "first_ack_s": round(med["first_ack_s"], 2),
        "drain_active_s": round(med["drain_active_s"], 2),
        "drain_records_per_s": round(med["drain_records_per_s"]),
        "live_lag_max_s": round(max(o["live_lag_max_s"] for o in outages), 2),
        "outage_over_drain": round(med["outage_over_drain"], 1),
        "lost": len(used - stored),
        "duplicates": (records.reading_rows - records.reading_seqs) + (len(records.seqs) - len(stored)),
        "readings_produced": final["readings_out"],
        "ceiling_records_per_s": round(ceiling_rps),
        "drain_vs_ceiling": round(med["drain_records_per_s"] / ceiling_rps, 2),
        "per_outage": [{k: round(v, 2) for k, v in o.items()} for o in outages],
        "targets": {"outage_over_drain": TARGET_RATIO, "lost": 0, "duplicates": 0},
    }  # fmt: skip
    result["targets_met"] = (
        result["outage_over_drain"] >= TARGET_RATIO
        and result["lost"] == 0
        and result["duplicates"] == 0
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one 20 s outage (under 60 s)")
    parser.add_argument("--rate", type=int, default=1000, help="readings/s the agent polls")
    parser.add_argument("--outage-s", type=float, help="outage length (quick 20, full 300)")
    parser.add_argument("--repeats", type=int, help="outages in the run (quick 1, full 3)")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="steady state before")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--live-window-s", type=float, default=60.0, help="the agent's outbox.live_window_s"
    )
    args = parser.parse_args()
    args.outage_s = args.outage_s or (20.0 if args.quick else 300.0)
    args.repeats = args.repeats or (1 if args.quick else 3)
    with ExitStack() as cleanup:
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-backfill-"))
        result = run(args, Path(tmp), cleanup)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
