# ruff: noqa: S608  (the generator's SQL is built from this script's own constants and numbers)
"""Central's read queries over HTTP on a large fleet: a real server process, generated data.

The data is generated inside the database with set-based SQL (a recursive CTE on SQLite,
``generate_series`` on PostgreSQL), not through the ingest path: 1,000 points in 11 plants (one
of 500 points), readings at a fixed interval over the period, one alarm episode (raise, ack,
clear) per point every ``alarm_every_h`` hours, agent heartbeats, calibration dates. The hourly
roll-ups (hourly, daily) are then built set-based, as ``hse-central init`` does for an older database, and the
database is ANALYZEd. Full run: 10,000,000 readings (1,000 points x 90 days at 777.6 s).

For each database (SQLite always; PostgreSQL when HSE_TEST_POSTGRES_URL is set, in a scratch
database) it serves ``hse-central serve`` (one worker) and times, through HTTP, after warm-up:

- ``latest_plant_ms``: ``GET /plants/{plant}/latest`` of the 500-point plant (target 50 ms);
- ``trend_30d_hourly_ms``: 30 days of one point in 1-hour buckets (target 100 ms);
- ``fleet_kpi_ms``: ``GET /fleet/overview`` over the last 30 days (target 500 ms);
- ``ledger_7d_ms``: the compliance ledger of the 500-point plant over 7 days (no target);
- ``http_floor_ms``: ``GET /healthz``, the raw ceiling of the transport, and each figure's ratio
  to it.

Medians over the repeats.

    python tests/benchmarks/bench_queries.py --quick     # under 60 s
    python tests/benchmarks/bench_queries.py             # 10 million readings per database

The last line printed is one JSON object with the figures and the parameters.
"""

from __future__ import annotations

import argparse
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
from sqlalchemy import Engine, text  # noqa: E402

from tests.support import postgres  # noqa: E402
from tests.support.central import ADMIN_PASSWORD, create_admin, running_server  # noqa: E402

TARGETS_MS = {"latest_plant_ms": 50, "trend_30d_hourly_ms": 100, "fleet_kpi_ms": 500}
HOUR_US = 3_600_000_000
BIG_PLANT = "bench-big"
SMALL_PLANTS = 10


def plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"points": 1000, "days": 30, "interval_s": 3600.0, "alarm_every_h": 48,
                "repeats": 5, "warmup": 2}  # fmt: skip
    return {"points": 1000, "days": 90, "interval_s": 777.6, "alarm_every_h": 48,
            "repeats": 15, "warmup": 3}  # fmt: skip


def setup_org(engine: Engine, points: int, now_us: int) -> None:
    """Regions, plants, agents (with heartbeats), devices (10 points each) and points."""
    from central import crud
    from central.core.db import write_session

    small = (points - 500) // SMALL_PLANTS
    with write_session(engine) as session:
        plants = [(BIG_PLANT, "r-east", 500)] + [
            (f"bench-{i:02d}", f"r-{('north', 'south', 'west')[i % 3]}", small)
            for i in range(SMALL_PLANTS)
        ]
        for key, region, _n in plants:
            agent, _token = crud.create_agent(
                session, plant=key, region=region, agent_key=f"{key}-a"
            )
            plant = crud.get_or_create_plant(session, key=key)
            plant.limit_set = "cn-gbz-2019"
            plant.timezone = "Asia/Shanghai"
            session.add(plant)
            assert agent.id is not None
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agent_health (agent_id, last_batch_ts, ts, received_ts, version, "
                "backlog_records, outbox_bytes, quota_bytes, gaps_total, devices) "
                "SELECT id, :now, :now, :now, 'bench', 0, 1000, 100000, 0, '[]' FROM agent"
            ),
            {"now": now_us},
        )
        for key, _region, n in plants:
            pid = conn.execute(text("SELECT id FROM plant WHERE key = :k"), {"k": key}).scalar_one()
            devices = [
                {"plant_id": pid, "key": f"gd-{d:03d}", "serial": f"SN-{key}-{d}",
                 "due": now_us - (86_400_000_000 * 10 if d % 7 == 0 else -86_400_000_000 * 100)}
                for d in range(n // 10)
            ]  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO device (plant_id, key, profile, serial, calibration_due_ts) "
                    "VALUES (:plant_id, :key, 'gd-h2s-mb', :serial, :due)"
                ),
                devices,
            )
            conn.execute(
                text(
                    "INSERT INTO area (plant_id, key, name) VALUES (:p, 'unit-1', 'unit-1'), "
                    "(:p, 'unit-2', 'unit-2')"
                ),
                {"p": pid},
            )
            conn.execute(
                text(
                    "INSERT INTO point (key, plant_id, device_id, area_id, name, quantity, unit, "
                    "profile, limits, registered, measured, created_ts, updated_ts) "
                    "SELECT :k || '/' || d.key || '/h2s-' || CAST(x.n AS TEXT), d.plant_id, d.id, "
                    "(SELECT id FROM area WHERE plant_id = d.plant_id AND key = "
                    "CASE WHEN x.n < 5 THEN 'unit-1' ELSE 'unit-2' END), "
                    "'h2s-' || CAST(x.n AS TEXT), 'gas.h2s', 'ppm', 'gd-h2s-mb', '{}', TRUE, TRUE, :now, "
                    ":now "
                    "FROM device d CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 "
                    "UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 "
                    "UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) x "
                    "WHERE d.plant_id = :p ORDER BY d.id, x.n"
                ),
                {"k": key, "p": pid, "now": now_us},
            )


def numbers_sql(dialect: str, count: int) -> str:
    """A relation ``n(i)`` of 0 .. count-1, set-based."""
    if dialect == "postgresql":
        return f"generate_series(0::bigint, {count - 1}::bigint) AS n(i)"
    return (
        "(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s "
        f"WHERE i < {count - 1}) SELECT i FROM s) n"
    )


def load_data(engine: Engine, p: dict[str, Any], start_us: int, end_us: int) -> int:
    """Readings, latest values, alarm events and the roll-up; returns the readings stored."""
    from central.core.migrations import BACKFILL_DAILY_SQL, BACKFILL_ROLLUP_SQL

    dialect = engine.dialect.name
    step_us = round(p["interval_s"] * 1_000_000)
    count = (end_us - start_us) // step_us
    nums = numbers_sql(dialect, count)
    # Values 0..5 ppm, different per point; every 503rd reading a 9.5 ppm spike (above the
    # cn-gbz-2019 H2S MAC of 7.06 ppm: a few exceedances for the ledger); every 97th a bad read.
    value = (
        "CASE WHEN (n.i + pt.id) % 97 = 0 THEN NULL WHEN (n.i * 31 + pt.id) % 503 = 0 THEN 9.5 "
        "ELSE ((pt.id * 7919 + n.i * 104729) % 1000) / 200.0 END"
    )
    quality = "CASE WHEN (n.i + pt.id) % 97 = 0 THEN 2 ELSE 0 END"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO reading (point_id, source_ts, agent_id, seq, received_ts, value, "
                "quality, reason) "
                f"SELECT pt.id, :start + n.i * :step, a.id, pt.id * :count + n.i + 1, "
                f":start + n.i * :step + 1000000, {value}, {quality}, NULL "
                f"FROM point pt JOIN agent a ON a.plant_id = pt.plant_id CROSS JOIN {nums} "
                "ORDER BY pt.id, n.i"
            ),
            {"start": start_us, "step": step_us, "count": count},
        )
        conn.execute(
            text(
                "INSERT INTO latest_reading (point_id, source_ts, received_ts, value, quality, "
                "reason, agent_id, seq) SELECT r.point_id, r.source_ts, r.received_ts, r.value, "
                "r.quality, r.reason, r.agent_id, r.seq FROM reading r JOIN (SELECT point_id, "
                "MAX(source_ts) AS ts FROM reading GROUP BY point_id) m "
                "ON m.point_id = r.point_id AND m.ts = r.source_ts"
            )
        )
        # One episode per point every alarm_every_h hours, staggered by point: raise, ack after
        # 1-20 min, clear after 30 min; every 13th point's alarm never clears (stale).
        episodes = (end_us - start_us) // (p["alarm_every_h"] * HOUR_US)
        enums = numbers_sql(dialect, episodes)
        base = (
            "SELECT a.id AS agent_id, pt.plant_id, pt.id AS point_id, "
            f":start + n.i * :every + (pt.id * 611) % :every AS t0, pt.id * :count * 4 + n.i * 4 AS s0 "
            f"FROM point pt JOIN agent a ON a.plant_id = pt.plant_id CROSS JOIN {enums}"
        )
        for offset, transition, delay, extra in (
            (1, "raise", "0", ""),
            (2, "ack", "60000000 * (1 + e.point_id % 20)", ""),
            (3, "clear", "1800000000", " WHERE e.point_id % 13 <> 0"),
        ):
            conn.execute(
                text(
                    "INSERT INTO event (agent_id, seq, plant_id, point_id, event_id, category, "
                    "kind, transition, state, priority, value, limit_value, ts, actor, message, "
                    f"details) SELECT e.agent_id, e.s0 + {offset}, e.plant_id, e.point_id, "
                    f"'ev-' || CAST(e.s0 + {offset} AS TEXT), 'alarm', 'limit.h', '{transition}', "
                    f"NULL, 'high', 12.0, 10.0, e.t0 + {delay}, NULL, '', '{{}}' FROM ({base}) e"
                    f"{extra}"
                ),
                {"start": start_us, "every": p["alarm_every_h"] * HOUR_US, "count": count},
            )
        conn.execute(text(BACKFILL_ROLLUP_SQL))
        conn.execute(text(BACKFILL_DAILY_SQL))
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
        return int(conn.execute(text("SELECT COUNT(*) FROM reading")).scalar_one())


def timed(
    client: httpx.Client, path: str, params: dict[str, str], repeats: int, warmup: int
) -> list[float]:
    for _ in range(warmup):
        r = client.get(path, params=params)
        r.raise_for_status()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def run_database(name: str, url: str, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    from central.core.config import load_settings
    from central.core.db import init_db, make_engine

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end_us = int(now.timestamp()) * 1_000_000
    start_us = end_us - p["days"] * 86_400_000_000
    engine = make_engine(load_settings(env={}, overrides={"database_url": url}))
    t0 = time.perf_counter()
    try:
        init_db(engine)
        setup_org(engine, p["points"], end_us)
        readings = load_data(engine, p, start_us, end_us)
    finally:
        engine.dispose()
    load_s = time.perf_counter() - t0
    print(f"{name}: {readings:,} readings loaded in {load_s:.1f} s", file=sys.stderr)
    admin, password = create_admin(url)
    assert password == ADMIN_PASSWORD
    iso = lambda dt: dt.isoformat().replace("+00:00", "Z")  # noqa: E731
    last30 = {"start": iso(now - timedelta(days=30)), "end": iso(now)}
    week = {"start": iso(now - timedelta(days=7)), "end": iso(now)}
    with (
        running_server(url, workdir, extra_args=("--log-level", "warning")) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        r = client.post("/api/v1/auth/token", data={"username": admin, "password": password})
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        point = f"{BIG_PLANT}/gd-007/h2s-3"
        reps, warm = p["repeats"], p["warmup"]
        runs = {
                "latest_plant_ms": timed(client, f"/api/v1/plants/{BIG_PLANT}/latest", {}, reps, warm),
                "trend_30d_hourly_ms": timed(client, f"/api/v1/points/{point}/readings", {**last30, "bucket": "1h"}, reps, warm),
                "fleet_kpi_ms": timed(client, "/api/v1/fleet/overview", last30, reps, warm),
                "ledger_7d_ms": timed(client, "/api/v1/compliance/ledger", {**week, "plant": BIG_PLANT}, max(3, reps // 3), 1),
                "http_floor_ms": timed(client, "/healthz", {}, reps * 4, warm),
            }  # fmt: skip
        check = client.get(f"/api/v1/plants/{BIG_PLANT}/latest").json()
        assert len(check["points"]) == 500, len(check["points"])
        kpi = client.get("/api/v1/fleet/overview", params=last30).json()
        assert len(kpi["plants"]) == 1 + SMALL_PLANTS
    medians = {k: round(statistics.median(v), 2) for k, v in runs.items()}
    floor = medians["http_floor_ms"]
    out: dict[str, Any] = {"readings": readings, "load_s": round(load_s, 1), **medians}
    for key, target in TARGETS_MS.items():
        out[key.replace("_ms", "_within_target")] = medians[key] <= target
        out[key.replace("_ms", "_ratio_to_floor")] = (
            round(medians[key] / floor, 1) if floor else None
        )
    out["repeats_ms"] = {k: [round(x, 1) for x in v] for k, v in runs.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under 60 s")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    p = plan(args.quick)
    result: dict[str, Any] = {
        "benchmark": "central_queries",
        "quick": args.quick,
        "params": p,
        "targets_ms": TARGETS_MS,
        "workers": 1,
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-queries-")))
        result["sqlite"] = run_database("sqlite", f"sqlite:///{tmp / 'bench.db'}", tmp, p)
        if postgres.admin_url() and not args.sqlite_only:
            url = stack.enter_context(postgres.scratch_database("hse_bench"))
            result["postgresql"] = run_database("postgresql", url, tmp, p)
        else:
            result["postgresql"] = None
            result["postgresql_skipped"] = f"{postgres.ENV} is not set"
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
