"""The schema's upkeep on real databases: a version-1 database is brought to the current version
(columns added, the role column widened, the hourly roll-up backfilled from the stored readings
and thinned aggregates), a version-2 one gets the thinned aggregates into its roll-up, the
roll-up kept on ingest equals a GROUP BY over the raw readings and aggregates however batches
repeat, and the ledger's days follow a zone across a DST change. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session

from central.compliance.days import local_days
from central.compliance.ledger import daily_stats
from central.core import migrations
from central.core.config import load_settings
from central.core.db import init_db, make_engine
from central.core.epoch import to_us
from central.models import SCHEMA_VERSION
from protocols.sync import ReadingAggregate
from tests.support.central import (
    Seqs,
    asgi_target,
    batch,
    create_admin,
    reading,
    session_postgres_url,
    sqlite_url,
    unique,
)

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ROLLUP_OF_RAW = """
SELECT point_id, h, SUM(n), SUM(g), SUM(v), MIN(lo), MAX(hi) FROM (
  SELECT point_id, source_ts - source_ts % 3600000000 AS h, COUNT(*) AS n,
         SUM(CASE WHEN quality = 0 THEN 1 ELSE 0 END) AS g, COUNT(value) AS v,
         MIN(value) AS lo, MAX(value) AS hi
  FROM reading GROUP BY 1, 2
  UNION ALL
  SELECT point_id, from_ts - from_ts % 3600000000, SUM("count"),
         SUM(CASE WHEN quality = 0 THEN "count" ELSE 0 END),
         SUM(CASE WHEN mean IS NOT NULL THEN "count" ELSE 0 END), MIN("min"), MAX("max")
  FROM reading_aggregate GROUP BY 1, 2
) AS x GROUP BY 1, 2 ORDER BY 1, 2
"""
"""Every raw reading, and every reading the agents thinned into a per-minute aggregate."""
ROLLUP = """
SELECT point_id, hour_ts, samples, good, valued, min_value, max_value
FROM reading_hourly ORDER BY 1, 2
"""
DAILY_OF_RAW = ROLLUP_OF_RAW.replace("3600000000", "86400000000")
DAILY = """
SELECT point_id, day_ts, samples, good, valued, min_value, max_value
FROM reading_daily ORDER BY 1, 2
"""
SUM_OF_RAW = """
SELECT source_ts - source_ts % 3600000000, COALESCE(SUM(value), 0) FROM reading GROUP BY 1
"""
V2_COLUMNS = [
    ("app_user", "locked_ts"),
    ("app_user", "locked_reason"),
    ("plant", "limit_set"),
    ("plant", "timezone"),
    ("point", "poll_interval_s"),
]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Per test (not per module, as in conftest.py): each test rewrites the schema."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("schema"))
    return session_postgres_url(request)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(load_settings(env={}, overrides={"database_url": database_url}))
    try:
        yield e
    finally:
        e.dispose()


def thin(
    seqs: Seqs,
    point: str,
    minute: datetime,
    count: int,
    low: float | None,
    high: float | None,
    mean: float | None,
) -> ReadingAggregate:
    """A minute of ``count`` readings the agent thinned (no value: all were bad)."""
    return ReadingAggregate(
        seq=seqs.take(), point=point, quantity="gas.h2s", unit="ppm", from_ts=minute,
        to_ts=minute + timedelta(seconds=59), count=count, min=low, max=high, mean=mean,
        quality="good" if mean is not None else "bad",  # type: ignore[arg-type]
    )  # fmt: skip


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _as_version_1(engine: Engine) -> None:
    """Take the version-2 schema back to what version-1 code created."""
    with engine.begin() as conn:
        for table in ("reading_hourly", "reading_daily", "alarm_state", "alarm_note", "audit_log", "api_token",
                      "qualification", "person", "personnel_sync", "extension_record",
                      "extension_field", "classification"):  # fmt: skip
            conn.execute(text(f"DROP TABLE {table}"))
        for table, column in V2_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        for index in ("ix_event_kpi", "ix_event_alarm"):
            conn.execute(text(f"DROP INDEX {index}"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE app_user ALTER COLUMN role TYPE varchar(16)"))
        conn.execute(text("UPDATE schema_meta SET value = '1' WHERE key = 'schema_version'"))


async def test_a_version_1_database_is_brought_forward(database_url: str, engine: Engine) -> None:
    admin = create_admin(database_url)[0]
    async with asgi_target(database_url, admin) as t:
        plant, agent, token = await t.new_agent(unique("plant"))
        seqs = Seqs()
        start = datetime(2025, 6, 1, tzinfo=UTC)
        sent = [reading(seqs, f"{plant}/d/p{i % 3}", float(i), start + timedelta(minutes=97 * i))
                for i in range(40)]  # fmt: skip
        thinned = [thin(seqs, f"{plant}/d/p1", start + timedelta(minutes=61), 30, 2.0, 99.0, 7.5)]
        assert (
            await t.ingest(batch(agent, plant, readings=sent, aggregates=thinned), token)
        ).status_code == 200
    _as_version_1(engine)
    assert not inspect(engine).has_table("reading_hourly")

    init_db(engine)

    insp = inspect(engine)
    for table, column in V2_COLUMNS:
        assert column in {c["name"] for c in insp.get_columns(table)}, (table, column)
    assert {"ix_event_kpi", "ix_event_alarm"} <= {ix["name"] for ix in insp.get_indexes("event")}
    assert rows(engine, "SELECT value FROM schema_meta") == [(str(SCHEMA_VERSION),)]
    assert rows(engine, ROLLUP) == rows(engine, ROLLUP_OF_RAW)
    assert rows(engine, DAILY) == rows(engine, DAILY_OF_RAW)
    assert len(rows(engine, ROLLUP)) > 3
    assert len(rows(engine, DAILY)) > 3
    async with asgi_target(database_url, admin) as t:  # the long role names now fit
        officer = await t.new_user("plant_safety_officer", f"plant:{plant}")
        assert (await t.get("/api/v1/me", officer)).json()["role"] == "plant_safety_officer"
    init_db(engine)  # and again: nothing changes
    assert rows(engine, ROLLUP) == rows(engine, ROLLUP_OF_RAW)


async def test_a_version_2_database_gets_the_thinned_readings_in_its_rollup(
    database_url: str, engine: Engine
) -> None:
    admin = create_admin(database_url)[0]
    async with asgi_target(database_url, admin) as t:
        plant, agent, token = await t.new_agent(unique("plant"))
        seqs = Seqs()
        start = datetime(2025, 6, 1, tzinfo=UTC)
        sent = [reading(seqs, f"{plant}/d/p", float(i), start + timedelta(minutes=50 * i))
                for i in range(10)]  # fmt: skip
        thinned = [thin(seqs, f"{plant}/d/p", start + timedelta(minutes=30 + 90 * i), 60, -1.0,
                        50.0 + i, 3.0) for i in range(4)]  # fmt: skip
        assert (
            await t.ingest(batch(agent, plant, readings=sent, aggregates=thinned), token)
        ).status_code == 200
    with engine.begin() as conn:  # what version-2 code kept: the raw readings only
        conn.execute(text("DELETE FROM reading_hourly"))
        conn.execute(text("DELETE FROM reading_daily"))
        conn.execute(text(migrations.BACKFILL_ROLLUP_SQL))
        conn.execute(text(migrations.BACKFILL_DAILY_SQL))
        conn.execute(text("UPDATE schema_meta SET value = '2' WHERE key = 'schema_version'"))
    assert rows(engine, ROLLUP) != rows(engine, ROLLUP_OF_RAW)

    init_db(engine)

    assert rows(engine, "SELECT value FROM schema_meta") == [(str(SCHEMA_VERSION),)]
    assert rows(engine, ROLLUP) == rows(engine, ROLLUP_OF_RAW)
    assert rows(engine, DAILY) == rows(engine, DAILY_OF_RAW)
    assert rows(engine, "SELECT MAX(max_value), SUM(samples) FROM reading_daily") == [(53.0, 250)]
    init_db(engine)  # and again: nothing is added twice
    assert rows(engine, ROLLUP) == rows(engine, ROLLUP_OF_RAW)


async def test_the_rollup_kept_on_ingest_equals_the_raw_readings(
    database_url: str, engine: Engine
) -> None:
    admin = create_admin(database_url)[0]
    async with asgi_target(database_url, admin) as t:
        plant, agent, token = await t.new_agent(unique("plant"))
        seqs = Seqs()
        start = datetime(2025, 6, 1, tzinfo=UTC)
        first = [reading(seqs, f"{plant}/d/p{i % 2}", float(i % 7), start + timedelta(minutes=130 * i),
                         quality="bad" if i % 5 == 0 else "good") for i in range(30)]  # fmt: skip
        for i in range(0, 30, 5):
            first[i] = first[i].model_copy(update={"value": None})
        later = [
            reading(seqs, f"{plant}/d/p0", -3.0 + i, start + timedelta(minutes=13 * i + 1))
            for i in range(10)
        ]
        # Thinned minutes: two in one hour of p1 (one bad, no value), one beside raw p0 readings.
        thinned = [
            thin(seqs, f"{plant}/d/p1", start + timedelta(minutes=121), 12, 0.5, 9.5, 4.0),
            thin(seqs, f"{plant}/d/p1", start + timedelta(minutes=122), 3, None, None, None),
            thin(seqs, f"{plant}/d/p0", start + timedelta(minutes=14), 60, -8.0, 30.0, 1.25),
        ]
        for b in (batch(agent, plant, readings=first, batch_id="a"),
                  batch(agent, plant, readings=first, batch_id="a"),  # sent twice: counted once
                  batch(agent, plant, readings=later, aggregates=thinned, batch_id="b"),
                  batch(agent, plant, aggregates=thinned, batch_id="b")):  # fmt: skip
            assert (await t.ingest(b, token)).status_code == 200
    assert rows(engine, ROLLUP) == rows(engine, ROLLUP_OF_RAW)
    assert rows(engine, DAILY) == rows(engine, DAILY_OF_RAW)
    assert len(rows(engine, DAILY)) >= 3
    # Sums (floats, so apart): 02:00 holds p1's raw 02:10 reading and 12 thinned with a value.
    sums = dict(rows(engine, "SELECT hour_ts, SUM(sum_value) FROM reading_hourly GROUP BY 1"))
    raw = dict(rows(engine, SUM_OF_RAW))
    hour = to_us(start + timedelta(hours=2))
    assert sums[hour] == pytest.approx(raw.get(hour, 0.0) + 12 * 4.0)
    assert sums[to_us(start)] == pytest.approx(raw[to_us(start)] + 60 * 1.25)

    # KPI completeness over a period with ragged ends reads whole days from the daily roll-up
    # and the ends from the hourly one: the same count as the raw readings of those hours.
    from central.queries.kpi import Period, kpi_numbers

    settings = load_settings(env={}, overrides={"database_url": database_url})
    lo = to_us(start + timedelta(hours=5, minutes=20))  # counted from 05:00, a whole hour
    hi = to_us(start + timedelta(days=2, hours=7))
    with Session(engine) as session:
        (pid,) = session.exec(text("SELECT id FROM plant WHERE key = :k").bindparams(k=plant)).one()  # type: ignore[call-overload]
        numbers, _ = kpi_numbers(
            session, plant_ids=[pid], period=Period(lo, hi, hi), settings=settings
        )
    with engine.connect() as conn:
        raw = conn.execute(
            text(
                "SELECT COUNT(*) FROM reading r JOIN point p ON p.id = r.point_id "
                "WHERE p.plant_id = :p AND r.source_ts >= :lo AND r.source_ts < :hi"
            ),
            {"p": pid, "lo": to_us(start + timedelta(hours=5)), "hi": hi},
        ).one()
    assert numbers[pid].readings == raw[0] > 0


async def test_ledger_days_across_a_dst_change(database_url: str, engine: Engine) -> None:
    admin = create_admin(database_url)[0]
    async with asgi_target(database_url, admin) as t:
        plant, agent, token = await t.new_agent(unique("plant"))
        seqs = Seqs()
        point = f"{plant}/d/p"
        # Europe/Berlin, 2025-10-26 has 25 hours: 2025-10-25T22:00Z .. 2025-10-26T23:00Z.
        times = [
            "2025-10-25T21:30:00",
            "2025-10-25T22:30:00",
            "2025-10-26T22:30:00",
            "2025-10-26T23:30:00",
        ]
        sent = [reading(seqs, point, float(i + 1), datetime.fromisoformat(x).replace(tzinfo=UTC))
                for i, x in enumerate(times)]  # fmt: skip
        assert (await t.ingest(batch(agent, plant, readings=sent), token)).status_code == 200
    days = local_days(
        to_us(datetime(2025, 10, 25, 12, tzinfo=UTC)),
        to_us(datetime(2025, 10, 27, 12, tzinfo=UTC)),
        "Europe/Berlin",
    )
    with Session(engine) as session:
        (pid,) = session.exec(text("SELECT id FROM point WHERE key = :k").bindparams(k=point)).one()  # type: ignore[call-overload]
        stats = daily_stats(session, point_ids=[pid], days=days, tz="Europe/Berlin")
    # 21:30Z is Oct 25 local; 22:30Z Oct 25 and 22:30Z Oct 26 fall on Oct 26 (25 h); 23:30Z Oct 27.
    assert {n: (s.samples, s.total) for (_p, n), s in stats.items()} == {
        0: (1, 1.0),
        1: (2, 5.0),
        2: (1, 4.0),
    }
