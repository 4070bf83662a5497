"""Test and benchmark helpers for the central server: databases, an in-process app, a real
uvicorn process, and builders for wire batches.

- :func:`reset_postgres` empties every central table of a scratch database (each PostgreSQL test
  starts from empty tables while sharing the session's database); :func:`database_url_for` picks
  a SQLite file or that emptied database for a test parametrized over both.
- :class:`AppHarness`: the app through ``httpx.ASGITransport``, with its lifespan run.
- :class:`ServerProcess`: ``python -m central serve`` on a free port, stopped by pid.
- :class:`Seqs` / ``reading()`` / ``event()`` ...: wire records with one seq space per agent.
"""

from __future__ import annotations

import gzip
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from protocols.sync import (
    AgentHealth,
    AlarmEvent,
    Batch,
    CommandResult,
    Gap,
    Lane,
    PointInfo,
    Reading,
    ReadingAggregate,
)

from .ports import free_port, wait_port
from .procs import Child, python_env

if TYPE_CHECKING:
    import pytest

ADMIN_PASSWORD = "admin-password-123"
VIEWER_PASSWORD = "viewer-password-123"


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'central.db'}"


def reset_postgres(url: str) -> None:
    """Create central's schema in ``url`` if needed and empty every table."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from central.core.config import load_settings
    from central.core.db import init_db, make_engine
    from central.models import SchemaMeta  # noqa: F401  (registers the metadata)

    engine = make_engine(load_settings(env={}, overrides={"database_url": url}))
    try:
        init_db(engine)
        names = ", ".join(
            f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name != "schema_meta"
        )
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def session_postgres_url(request: pytest.FixtureRequest) -> str:
    """The session's PostgreSQL database (fixture ``postgres_url``), every central table emptied."""
    url = str(request.getfixturevalue("postgres_url"))
    reset_postgres(url)
    return url


def database_url_for(kind: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A SQLite file in ``directory`` (``kind == "sqlite"``), else the session's PostgreSQL
    database emptied (:func:`session_postgres_url`)."""
    return sqlite_url(directory) if kind == "sqlite" else session_postgres_url(request)


def sql(database_url: str, statement: str, **params: object) -> list[tuple[Any, ...]]:
    """Run one statement in its own transaction; the rows it returns, if any."""
    from sqlalchemy import create_engine, text

    from central.core.db import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


# --- wire records -------------------------------------------------------------------------


T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A timestamp ``seconds`` after T0 (a fixed instant, so tests are reproducible)."""
    return T0 + timedelta(seconds=seconds)


def recent(seconds_ago: float = 0.0) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds_ago)


@dataclass
class Seqs:
    """One monotonic seq per agent, shared by every record type (the wire contract)."""

    next: int = 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


def reading(
    seqs: Seqs,
    point: str,
    value: float | None,
    ts: datetime,
    *,
    quality: str = "good",
    quantity: str = "gas.h2s",
    unit: str = "ppm",
    reason: str | None = None,
) -> Reading:
    return Reading(
        seq=seqs.take(),
        point=point,
        quantity=quantity,
        unit=unit,
        value=value,
        quality=quality,  # type: ignore[arg-type]
        reason=reason,
        source_ts=ts,
        received_ts=ts + timedelta(milliseconds=5),
    )


def event(
    seqs: Seqs,
    point: str | None,
    ts: datetime,
    *,
    category: str = "alarm",
    kind: str = "limit.hh",
    transition: str = "raise",
    value: float | None = None,
    event_id: str = "",
) -> AlarmEvent:
    return AlarmEvent(
        seq=seqs.take(),
        event_id=event_id or f"ev-{seqs.next}",
        point=point,
        category=category,  # type: ignore[arg-type]
        kind=kind,
        transition=transition,
        priority="high",  # type: ignore[arg-type]
        value=value,
        limit=10.0,
        ts=ts,
        message=f"{kind} {transition}",
    )


def gap(seqs: Seqs, point: str | None, start: datetime, end: datetime, reason: str) -> Gap:
    return Gap(seq=seqs.take(), point=point, from_ts=start, to_ts=end, count=3, reason=reason)


def aggregate(seqs: Seqs, point: str, start: datetime, end: datetime) -> ReadingAggregate:
    return ReadingAggregate(
        seq=seqs.take(),
        point=point,
        quantity="gas.h2s",
        unit="ppm",
        from_ts=start,
        to_ts=end,
        count=10,
        min=1.0,
        max=3.0,
        mean=2.0,
        quality="good",  # type: ignore[arg-type]
    )


def command_result(seqs: Seqs, command_id: str, ok: bool = True) -> CommandResult:
    return CommandResult(seq=seqs.take(), command_id=command_id, ok=ok, message="done", ts=recent())


def point_info(point: str, *, area: str | None = None, quantity: str = "gas.h2s") -> PointInfo:
    _plant, device, name = point.split("/")
    return PointInfo(
        point=point,
        device=device,
        area=area,
        name=name,
        quantity=quantity,
        unit="ppm",
        profile="gd-h2s-mb",
        range_low=0.0,
        range_high=100.0,
        limits={"h": 10.0, "hh": 15.0},
    )


def batch(
    agent_id: str,
    plant_id: str,
    *,
    batch_id: str = "b1",
    lane: str = "live",
    health: AgentHealth | None = None,
    **records: list[Any],
) -> Batch:
    return Batch(
        agent_id=agent_id,
        plant_id=plant_id,
        batch_id=batch_id,
        lane=Lane(lane),
        sent_at=recent(),
        health=health,
        **records,
    )


def encode(b: Batch, *, compress: bool = True) -> bytes:
    body = b.model_dump_json().encode()
    return gzip.compress(body, compresslevel=1) if compress else body


def gzip_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }


# --- a target: the app in process or a real server, seen through HTTP ----------------------


COUNTED_TABLES = (
    "reading",
    "seq_ledger",
    "latest_reading",
    "event",
    "gap",
    "reading_aggregate",
    "command_result",
    "ingest_batch",
)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def create_admin(database_url: str) -> tuple[str, str]:
    """A fresh admin user straight in the database (as ``hse-central user add`` does)."""
    from central import crud
    from central.core.config import load_settings
    from central.core.db import init_db, make_engine, write_session
    from central.models import UserCreate

    name = unique("admin")
    engine = make_engine(load_settings(env={}, overrides={"database_url": database_url}))
    try:
        init_db(engine)
        with write_session(engine) as session:
            crud.create_user(
                session,
                user_in=UserCreate(username=name, password=ADMIN_PASSWORD, role="admin"),  # type: ignore[arg-type]
            )
    finally:
        engine.dispose()
    return name, ADMIN_PASSWORD


@dataclass
class Target:
    """Central behind HTTP (in process or a real server), with an admin to set things up."""

    client: httpx.AsyncClient
    database_url: str
    admin_name: str
    kind: str
    app: Any = None
    """The app itself when it runs in this process (``kind == "asgi"``)."""
    _admin_token: str | None = None

    async def login(self, name: str, password: str) -> str:
        r = await self.client.post(
            "/api/v1/auth/token", data={"username": name, "password": password}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = await self.login(self.admin_name, ADMIN_PASSWORD)
        return self._admin_token

    async def new_agent(self, plant: str | None = None, region: str = "r1") -> tuple[str, str, str]:
        """Register an agent over the admin API; returns (plant, agent_id, token)."""
        plant = plant or unique("plant")
        r = await self.client.post(
            "/api/v1/agents",
            json={"plant": plant, "region": region},
            headers=self.auth(await self.admin_token()),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        return plant, str(body["agent_id"]), str(body["token"])

    async def new_user(self, role: str = "viewer", scope: str = "fleet") -> str:
        """Register a user over the admin API and log in; returns its token."""
        kind, _, key = scope.partition(":")
        name = unique(role)
        r = await self.client.post(
            "/api/v1/users",
            json={
                "username": name,
                "password": VIEWER_PASSWORD,
                "role": role,
                "scope_kind": kind,
                "scope_key": key or None,
            },
            headers=self.auth(await self.admin_token()),
        )
        assert r.status_code == 201, r.text
        return await self.login(name, VIEWER_PASSWORD)

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def ingest(
        self, b: Batch | bytes, token: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = b if isinstance(b, bytes) else encode(b)
        return await self.client.post(
            "/api/v1/ingest", content=body, headers={**gzip_headers(token), **(headers or {})}
        )

    async def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self.client.get(path, params=clean, headers=self.auth(token))

    def counts(self, agent_key: str) -> dict[str, int]:
        """Rows each table holds for one agent (tests share a database, never an agent)."""
        return agent_counts(self.database_url, agent_key)


def agent_counts(database_url: str, agent_key: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    from central.core.db import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT id FROM agent WHERE key = :k"), {"k": agent_key}
            ).first()
            agent_id = row[0] if row else -1
            return {
                t: int(
                    conn.execute(
                        text(f"SELECT count(*) FROM {t} WHERE agent_id = :a"),  # noqa: S608
                        {"a": agent_id},
                    ).scalar_one()
                )
                for t in COUNTED_TABLES
            }
    finally:
        engine.dispose()


@dataclass
class SetClock:
    """A clock the test sets (``central.core.clock.Clock``): epoch microseconds, UTC."""

    us: int

    def now_us(self) -> int:
        return self.us

    def set(self, when: datetime) -> None:
        self.us = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    def advance(self, seconds: float) -> None:
        self.us += round(seconds * 1_000_000)


@asynccontextmanager
async def asgi_target(
    database_url: str, admin_name: str, *, clock: Any = None, **overrides: Any
) -> AsyncIterator[Target]:
    """The app in this process behind ``httpx.ASGITransport``, its lifespan run; ``clock``
    (e.g. a :class:`SetClock`) replaces the wall clock where central judges time."""
    from central import create_app, load_settings

    settings = load_settings(env={}, overrides={"database_url": database_url, **overrides})
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://central.test") as c:
            yield Target(
                client=c, database_url=database_url, admin_name=admin_name, kind="asgi", app=app
            )


@asynccontextmanager
async def server_target(
    server: ServerProcess, database_url: str, admin_name: str
) -> AsyncIterator[Target]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield Target(client=c, database_url=database_url, admin_name=admin_name, kind="server")


# --- a real server process ----------------------------------------------------------------


def cli(
    *args: str, database_url: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m central <args>`` against ``database_url``; bounded by a timeout."""
    return subprocess.run(
        [sys.executable, "-m", "central", "--database-url", database_url, *args],
        env=python_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class ServerProcess:
    child: Child
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_server(
    database_url: str,
    workdir: Path,
    *,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """``hse-central serve`` on a free loopback port until the block ends (SIGTERM, then KILL)."""
    port = free_port()
    child = Child.python(
        "central",
        "--database-url",
        database_url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        *extra_args,
        log=workdir / f"central-{port}.log",
        env={"HSE_CENTRAL_LOG_FORMAT": "json", **(env or {})},
    )
    try:
        try:
            wait_port(port, timeout_s=30)
        except TimeoutError:
            raise TimeoutError(f"central did not start:\n{child.output()}") from None
        yield ServerProcess(child=child, port=port)
    finally:
        child.stop()
