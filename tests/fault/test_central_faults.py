"""Central under faults: SIGKILL mid-stream loses nothing it acknowledged and duplicates
nothing on resend; two transactions racing for the same seqs store them once.

Real processes and real databases: SQLite files and PostgreSQL (marked ``postgres``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from central.core.db import sqlalchemy_url
from protocols.sync import Batch, BatchAck
from tests.support.central import (
    Seqs,
    asgi_target,
    at,
    batch,
    cli,
    create_admin,
    database_url_for,
    encode,
    gzip_headers,
    reading,
    reset_postgres,
    running_server,
)

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
BATCHES = 30
PER_BATCH = 200


def _scalar(url: str, statement: str, **params: object) -> int:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(statement), params).scalar_one())
    finally:
        engine.dispose()


def _batches(agent: str, plant: str) -> list[Batch]:
    seqs = Seqs()
    return [
        batch(
            agent,
            plant,
            batch_id=f"b{n}",
            readings=[
                reading(seqs, f"{plant}/gd-{i % 5}/h2s", float(i), at(n * PER_BATCH + i))
                for i in range(PER_BATCH)
            ],
        )
        for n in range(BATCHES)
    ]


async def _post_until_killed(
    url: str, token: str, bodies: list[bytes], kill_after_acks: int, kill: object
) -> dict[int, BatchAck]:
    """POST every body, 4 at a time; SIGKILL the server once ``kill_after_acks`` came back."""
    acks: dict[int, BatchAck] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(bodies)):
        queue.put_nowait(n)
    killed = asyncio.Event()

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker() -> None:
            while not killed.is_set():
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    r = await client.post(
                        "/api/v1/ingest", content=bodies[n], headers=gzip_headers(token)
                    )
                except httpx.TransportError:
                    return  # the server is gone: this batch is unacknowledged
                assert r.status_code == 200, r.text
                acks[n] = BatchAck.model_validate_json(r.content)
                if len(acks) >= kill_after_acks and not killed.is_set():
                    killed.set()
                    kill()  # type: ignore[operator]

        async with asyncio.timeout(120), asyncio.TaskGroup() as tg:
            for i in range(4):
                tg.create_task(worker(), name=f"poster-{i}")
    return acks


@pytest.mark.slow
@pytest.mark.parametrize("database", DATABASES)
async def test_sigkill_mid_stream_loses_no_acked_batch_and_resend_duplicates_nothing(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = database_url_for(database, request, tmp_path)
    assert cli("init", database_url=url).returncode == 0
    made = cli("agent", "add", "--plant", "kill-site", "--agent-id", "kill-a", database_url=url)
    token = made.stdout.strip()
    batches = _batches("kill-a", "kill-site")
    bodies = [encode(b) for b in batches]

    with running_server(url, tmp_path) as server:
        acks = await _post_until_killed(server.url, token, bodies, 10, server.child.kill)
        assert not server.child.alive()
    assert len(acks) >= 10

    if database == "sqlite":
        with sqlite3.connect(tmp_path / "central.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    agent_id = _scalar(url, "SELECT id FROM agent WHERE key = 'kill-a'")
    for n, ack in acks.items():
        lo, hi = ack.accepted[0]
        assert (lo, hi) == (batches[n].readings[0].seq, batches[n].readings[-1].seq)
        stored = _scalar(
            url,
            "SELECT count(*) FROM reading WHERE agent_id = :a AND seq BETWEEN :lo AND :hi",
            a=agent_id,
            lo=lo,
            hi=hi,
        )
        assert stored == PER_BATCH, f"acked batch {n} is not wholly stored"
    before = _scalar(url, "SELECT count(*) FROM reading WHERE agent_id = :a", a=agent_id)
    assert before % PER_BATCH == 0, "a batch was stored in part"

    fresh = 0
    with running_server(url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
            for n, body in enumerate(bodies):
                r = await c.post("/api/v1/ingest", content=body, headers=gzip_headers(token))
                ack = BatchAck.model_validate_json(r.content)
                assert ack.accepted == [(n * PER_BATCH + 1, (n + 1) * PER_BATCH)]
                fresh += PER_BATCH - ack.duplicates
    assert fresh == BATCHES * PER_BATCH - before
    total = BATCHES * PER_BATCH
    assert _scalar(url, "SELECT count(*) FROM reading WHERE agent_id = :a", a=agent_id) == total
    assert (
        _scalar(url, "SELECT count(DISTINCT seq) FROM reading WHERE agent_id = :a", a=agent_id)
        == total
    )
    assert _scalar(url, "SELECT count(*) FROM seq_ledger WHERE agent_id = :a", a=agent_id) == total


@pytest.mark.postgres
async def test_a_batch_racing_another_transaction_for_its_seqs_is_retried_not_failed(
    postgres_url: str,
) -> None:
    """Another transaction claims seq 3 after ingest looked at the ledger and before it
    inserted: ingest's insert waits, fails on the key when the other commits, and the retry
    stores the rest and acknowledges everything."""
    import psycopg

    reset_postgres(postgres_url)
    admin, _ = create_admin(postgres_url)
    async with asgi_target(postgres_url, admin) as target:
        plant, agent, token = await target.new_agent()
        seqs = Seqs()
        b = batch(
            agent, plant, readings=[reading(seqs, f"{plant}/d/x", 1.0, at(i)) for i in range(10)]
        )
        agent_id = _scalar(postgres_url, "SELECT id FROM agent WHERE key = :k", k=agent)

        with psycopg.connect(postgres_url) as other:
            other.execute(
                "INSERT INTO seq_ledger (agent_id, seq, batch_id, kind) VALUES (%s, 3, 0, 1)",
                (agent_id,),
            )
            posting = asyncio.create_task(target.ingest(b, token), name="racing-ingest")
            deadline = time.monotonic() + 20
            with psycopg.connect(postgres_url, autocommit=True) as watch:
                while True:
                    waiting = watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO seq_ledger%%'"
                    ).fetchone()
                    if waiting and waiting[0] > 0:
                        break
                    assert time.monotonic() < deadline, "ingest never waited on the ledger"
                    await asyncio.sleep(0.02)
            other.commit()
        async with asyncio.timeout(30):
            r = await posting
    assert r.status_code == 200, r.text
    ack = BatchAck.model_validate_json(r.content)
    assert ack.accepted == [(1, 10)]
    assert ack.duplicates == 1
    counts = target.counts(agent)
    assert counts["seq_ledger"] == 10
    assert counts["reading"] == 9  # seq 3 belongs to the other transaction's copy
