"""The database: engine per settings (SQLite WAL or PostgreSQL via psycopg 3), schema, sessions.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (durable across a process crash; the last
commits may be lost on power loss, the usual WAL trade). SQLAlchemy emits ``BEGIN`` itself instead
of the sqlite3 module's legacy implicit transactions, so a read is repeatable, and a writer can ask
for ``BEGIN IMMEDIATE`` (``IMMEDIATE`` execution option) to take the write lock up front instead of
failing to upgrade a read lock half-way through.

:func:`init_db` is idempotent: it creates what is missing, brings an older schema forward
(:mod:`central.core.migrations`) and refuses a database whose schema is newer than this code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, SQLModel, select

from central import models
from central.errors import StoreError

from . import migrations
from .config import Settings

IMMEDIATE = "hse_begin_immediate"
# An arbitrary constant: the advisory lock that serialises schema creation among workers.
_INIT_LOCK_KEY = 7_420_001


def sqlalchemy_url(url: str) -> str:
    """Our URLs name the database; SQLAlchemy also wants the driver (psycopg 3)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(settings: Settings) -> Engine:
    url = sqlalchemy_url(settings.database_url)
    if settings.is_sqlite:
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_s},
            pool_size=settings.db_pool_size,
        )
        _sqlite_events(engine, settings)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": max(1, round(settings.db_connect_timeout_s)),
            "application_name": "hse-central",
        },
    )


def _sqlite_events(engine: Engine, settings: Settings) -> None:
    busy_ms = round(settings.sqlite_busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def dialect_of(engine: Engine) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return engine.dialect.name


def init_db(engine: Engine) -> None:
    """Create missing tables and record the schema version; safe to run again and concurrently."""
    try:
        with engine.execution_options(**{IMMEDIATE: True}).begin() as conn:
            if dialect_of(engine) == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INIT_LOCK_KEY})
            row = (
                conn.execute(
                    select(models.SchemaMeta.value).where(models.SchemaMeta.key == "schema_version")
                ).first()
                if inspect(conn).has_table("schema_meta")
                else None
            )
            if row is not None and int(row[0]) > models.SCHEMA_VERSION:
                raise StoreError(
                    f"the database has schema version {row[0]}, newer than this code's "
                    f"{models.SCHEMA_VERSION}: upgrade hse-central",
                    retriable=False,
                )
            SQLModel.metadata.create_all(conn)
            migrations.add_missing_columns(conn, SQLModel.metadata)
            migrations.create_missing_indexes(conn, SQLModel.metadata)
            migrations.widen_columns(conn)
            migrations.append_only_audit(conn)
            migrations.seed_classifications(conn)
            meta_t = models.SchemaMeta.__table__  # type: ignore[attr-defined]
            if row is None:
                conn.execute(
                    meta_t.insert().values(key="schema_version", value=str(models.SCHEMA_VERSION))
                )
            elif int(row[0]) < models.SCHEMA_VERSION:
                migrations.backfill_rollup(conn)
                if int(row[0]) < 3:
                    migrations.fold_aggregates_into_rollup(conn)
                conn.execute(
                    meta_t.update()
                    .where(meta_t.c.key == "schema_version")
                    .values(value=str(models.SCHEMA_VERSION))
                )
    except DBAPIError as exc:
        raise translate(exc, "creating the schema") from exc


def check_db(engine: Engine) -> None:
    """Raise :class:`StoreError` unless the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise translate(exc, "checking the database") from exc


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DBAPIError, sqlite3.Error]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a SQLite-only install
        pass
    else:
        errors.append(psycopg.Error)
    return tuple(errors)


DRIVER_ERRORS = _driver_errors()
"""What a database call can raise: SQLAlchemy's wrapper, or the driver's own error when the
hot path talks to the DBAPI cursor directly."""

_RETRIABLE = {"OperationalError", "DeadlockDetected", "SerializationFailure", "LockNotAvailable"}


def translate(exc: BaseException, doing: str) -> StoreError:
    """A database error as a :class:`StoreError`, retriable when trying again can help."""
    orig: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    name = type(orig).__name__
    # Connection trouble (a restart, the network) or lock contention; psycopg names its
    # subclasses more precisely (ConnectionTimeout ...), so look along the class's ancestry.
    retriable = isinstance(exc, OperationalError) or any(
        cls.__name__ in _RETRIABLE for cls in type(orig).__mro__
    )
    # A concurrent transaction stored the same (agent, seq) first: trying again finds it.
    diag = getattr(orig, "diag", None)
    if name == "UniqueViolation" and getattr(diag, "constraint_name", None) == models.LEDGER_PKEY:
        retriable = True
    # str(orig) is the driver's message: it names the statement's problem, never parameters.
    text_ = str(orig).strip()
    first_line = text_.splitlines()[0] if text_ else name
    return StoreError(f"{doing}: {name}: {first_line}", retriable=retriable)


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction takes the write lock at once on SQLite; commits on success."""
    with Session(engine.execution_options(**{IMMEDIATE: True})) as session:
        yield session
        session.commit()
