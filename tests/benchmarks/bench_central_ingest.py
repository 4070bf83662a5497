"""Central ingest throughput over HTTP: one real uvicorn process (one worker), batches of
1,000 readings POSTed gzip-compressed from several concurrent connections.

For each database (SQLite always; PostgreSQL when HSE_TEST_POSTGRES_URL is set, in a scratch
database) it measures:

- ``<db>_readings_per_s``: readings stored per second through HTTP (median of the repeats);
- ``<db>_inprocess_readings_per_s``: the same bodies through ``IngestService.ingest`` in this
  process, without HTTP (what the server could do with free transport);
- ``<db>_raw_readings_per_s``: the raw ceiling, the same rows bulk-inserted straight into the
  same tables (ledger + readings) with the database's fastest path (SQLite ``executemany``,
  PostgreSQL ``COPY``), one transaction per batch, no decoding or checks;

and the ratio of the HTTP figure to the raw ceiling. Bodies are encoded before timing.

    python tests/benchmarks/bench_central_ingest.py --quick     # under 60 s
    python tests/benchmarks/bench_central_ingest.py             # more batches and repeats

The last line printed is one JSON object with the figures and the parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.support import postgres  # noqa: E402
from tests.support.central import cli, running_server  # noqa: E402

TARGET_READINGS_PER_S = 50_000
POINTS_PER_BATCH = 100


def make_bodies(
    *, agent: str, plant: str, batches: int, batch_size: int, first_seq: int, start: datetime
) -> tuple[list[bytes], list[list[tuple[Any, ...]]]]:
    """Gzip bodies of ``batches`` batches, and the same readings as plain rows for the ceiling."""
    bodies: list[bytes] = []
    rows: list[list[tuple[Any, ...]]] = []
    seq = first_seq
    sent = datetime.now(UTC).isoformat()
    for b in range(batches):
        readings = []
        batch_rows = []
        for i in range(batch_size):
            point = i % POINTS_PER_BATCH
            ts = start + timedelta(seconds=b * batch_size + i)
            iso = ts.isoformat()
            value = float((seq * 7919) % 1000) / 10
            readings.append(
                {
                    "seq": seq,
                    "point": f"{plant}/dev-{point // 10}/p{point}",
                    "quantity": "gas.h2s",
                    "unit": "ppm",
                    "value": value,
                    "quality": "good",
                    "reason": None,
                    "source_ts": iso,
                    "received_ts": iso,
                }
            )
            us = int(ts.timestamp()) * 1_000_000
            batch_rows.append((point + 1, us, seq, us, value))
            seq += 1
        doc = {
            "schema_version": 1,
            "agent_id": agent,
            "plant_id": plant,
            "batch_id": f"bench-{first_seq}-{b}",
            "lane": "live",
            "sent_at": sent,
            "readings": readings,
        }
        bodies.append(gzip.compress(json.dumps(doc).encode(), compresslevel=5))
        rows.append(batch_rows)
    return bodies, rows


async def post_all(url: str, token: str, bodies: list[bytes], concurrency: int) -> float:
    """POST every body with ``concurrency`` connections; returns elapsed seconds."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                r = await client.post("/api/v1/ingest", content=body, headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"ingest answered {r.status_code}: {r.text[:300]}")

        start = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for n in range(concurrency):
                tg.create_task(worker(), name=f"poster-{n}")
        return time.perf_counter() - start


def inprocess_rate(url: str, agent: str, bodies_per_repeat: list[list[bytes]]) -> float:
    """The ingest service alone, same bodies, no HTTP: median readings/s."""
    from sqlalchemy import text

    from central import load_settings
    from central.core.db import make_engine
    from central.core.metrics import Metrics
    from central.crud import agent_for_token  # noqa: F401  (imports the models)
    from central.ingest import IngestService

    settings = load_settings(env={}, overrides={"database_url": url})
    engine = make_engine(settings)
    try:
        service = IngestService(engine, settings, Metrics())
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT agent.id, agent.key, plant.id, plant.key FROM agent "
                    "JOIN plant ON plant.id = agent.plant_id WHERE agent.key = :k"
                ),
                {"k": agent},
            ).one()
        from central.crud import AgentContext

        ctx = AgentContext(*row)
        rates = []
        for bodies in bodies_per_repeat:
            start = time.perf_counter()
            n = 0
            for body in bodies:
                ack = service.ingest(body, content_encoding="gzip", agent=ctx)
                n += sum(hi - lo + 1 for lo, hi in ack.accepted)
            rates.append(n / (time.perf_counter() - start))
        return statistics.median(rates)
    finally:
        engine.dispose()


def raw_rate(url: str, rows_per_repeat: list[list[list[tuple[Any, ...]]]]) -> float:
    """The raw ceiling: ledger + reading rows straight in, one transaction per batch."""
    from central import load_settings
    from central.core.db import init_db, make_engine

    settings = load_settings(env={}, overrides={"database_url": url})
    engine = make_engine(settings)
    init_db(engine)
    agent_id = 999_999
    rates = []
    try:
        for repeat in rows_per_repeat:
            raw = engine.raw_connection()
            try:
                dbapi: Any = raw.dbapi_connection
                cur = dbapi.cursor()
                start = time.perf_counter()
                n = 0
                for rows in repeat:
                    if settings.is_sqlite:
                        cur.execute("BEGIN IMMEDIATE")
                        cur.executemany(
                            "INSERT INTO seq_ledger (agent_id, seq, batch_id, kind) "
                            "VALUES (?, ?, 0, 1)",
                            [(agent_id, r[2]) for r in rows],
                        )
                        cur.executemany(
                            "INSERT INTO reading (point_id, source_ts, agent_id, seq, "
                            "received_ts, value, quality) VALUES (?, ?, ?, ?, ?, ?, 0)",
                            [(p, s, agent_id, q, r, v) for p, s, q, r, v in rows],
                        )
                        cur.execute("COMMIT")
                    else:
                        with cur.copy(
                            "COPY seq_ledger (agent_id, seq, batch_id, kind) FROM STDIN"
                        ) as copy:
                            for r in rows:
                                copy.write_row((agent_id, r[2], 0, 1))
                        with cur.copy(
                            "COPY reading (point_id, source_ts, agent_id, seq, received_ts, "
                            "value, quality) FROM STDIN"
                        ) as copy:
                            for p, s, q, r, v in rows:
                                copy.write_row((p, s, agent_id, q, r, v, 0))
                        dbapi.commit()
                    n += len(rows)
                rates.append(n / (time.perf_counter() - start))
            finally:
                raw.close()
    finally:
        engine.dispose()
    return statistics.median(rates)


def run_database(
    name: str,
    url: str,
    workdir: Path,
    *,
    batch_size: int,
    per_repeat: int,
    repeats: int,
    warmup: int,
    concurrency: int,
) -> dict[str, Any]:
    for args in (
        ("init",),
        ("agent", "add", "--plant", "bench", "--agent-id", "bench-http"),
        ("agent", "add", "--plant", "bench2", "--agent-id", "bench-inproc"),
    ):
        done = cli(*args, database_url=url)
        if done.returncode != 0:
            raise RuntimeError(f"hse-central {' '.join(args)} failed: {done.stderr}")
        if args[0] == "agent":
            token = done.stdout.strip()
            if args[-1] == "bench-http":
                http_token = token
    start = datetime(2025, 1, 1, tzinfo=UTC)
    total = warmup + per_repeat * repeats
    bodies, rows = make_bodies(
        agent="bench-http",
        plant="bench",
        batches=total,
        batch_size=batch_size,
        first_seq=1,
        start=start,
    )
    warm, timed = bodies[:warmup], bodies[warmup:]
    chunks = [timed[i * per_repeat : (i + 1) * per_repeat] for i in range(repeats)]

    with running_server(url, workdir, extra_args=("--log-level", "warning")) as server:
        asyncio.run(post_all(server.url, http_token, warm, concurrency))
        http_rates = []
        for chunk in chunks:
            elapsed = asyncio.run(post_all(server.url, http_token, chunk, concurrency))
            http_rates.append(len(chunk) * batch_size / elapsed)

    in_bodies, _ = make_bodies(
        agent="bench-inproc",
        plant="bench2",
        batches=warmup + per_repeat * repeats,
        batch_size=batch_size,
        first_seq=1,
        start=start,
    )
    in_chunks = [
        in_bodies[warmup + i * per_repeat : warmup + (i + 1) * per_repeat] for i in range(repeats)
    ]
    inproc = inprocess_rate(url, "bench-inproc", [in_bodies[:warmup], *in_chunks][1:])

    raw_rows = rows[warmup:]
    raw_chunks = [raw_rows[i * per_repeat : (i + 1) * per_repeat] for i in range(repeats)]
    ceiling = raw_rate(url, raw_chunks)

    http = statistics.median(http_rates)
    return {
        f"{name}_readings_per_s": round(http),
        f"{name}_readings_per_s_repeats": [round(r) for r in http_rates],
        f"{name}_inprocess_readings_per_s": round(inproc),
        f"{name}_raw_readings_per_s": round(ceiling),
        f"{name}_ratio_to_raw": round(http / ceiling, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under 60 s")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    per_repeat, repeats, warmup = (20, 3, 5) if args.quick else (100, 5, 20)

    result: dict[str, Any] = {
        "benchmark": "central_ingest",
        "quick": args.quick,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "batches_per_repeat": per_repeat,
        "repeats": repeats,
        "workers": 1,
        "target_readings_per_s": TARGET_READINGS_PER_S,
        "postgres_readings_per_s": None,
        # The machine is shared: the load around the run says how far to trust the figures.
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-central-")))
        common = {
            "batch_size": args.batch_size,
            "per_repeat": per_repeat,
            "repeats": repeats,
            "warmup": warmup,
            "concurrency": args.concurrency,
        }
        result.update(run_database("sqlite", f"sqlite:///{tmp / 'bench.db'}", tmp, **common))
        print(f"sqlite: {result['sqlite_readings_per_s']} readings/s", file=sys.stderr)
        if postgres.admin_url() and not args.sqlite_only:
            url = stack.enter_context(postgres.scratch_database("hse_bench"))
            result.update(run_database("postgres", url, tmp, **common))
            print(f"postgres: {result['postgres_readings_per_s']} readings/s", file=sys.stderr)
        else:
            result["postgres_skipped"] = f"{postgres.ENV} is not set"
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
