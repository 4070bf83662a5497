"""``hse-central`` as an operator runs it: real processes on a real SQLite file (and
PostgreSQL for the server round trip): help everywhere, idempotent init, the agent token shown
once and stored only as a hash, users with passwords from a file or the environment, settings
errors that name the key and value and never a secret."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from central.core.security import hash_token
from central.models import SCHEMA_VERSION
from tests.support.central import (
    Seqs,
    at,
    batch,
    cli,
    encode,
    gzip_headers,
    reading,
    running_server,
)

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'central.db'}"


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("serve",),
        ("init",),
        ("agent",),
        ("agent", "add"),
        ("agent", "list"),
        ("user",),
        ("user", "add"),
        ("user", "list"),
        ("config", "show"),
    ],
)
def test_help_everywhere(args: tuple[str, ...], db: str) -> None:
    done = cli(*args, "--help", database_url=db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: hse-central")


def test_init_is_idempotent(db: str) -> None:
    for _ in range(2):
        done = cli("init", database_url=db)
        assert done.returncode == 0, done.stderr
        assert "schema ready" in done.stderr


def test_agent_add_prints_the_token_once_and_stores_only_its_hash(db: str, tmp_path: Path) -> None:
    done = cli("agent", "add", "--plant", "refinery-1", "--region", "north", database_url=db)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("hse_agent_")
    assert "\n" not in token
    assert "shown once" in done.stderr
    assert token not in done.stderr

    raw = (tmp_path / "central.db").read_bytes()
    for wal in tmp_path.glob("central.db-wal"):
        raw += wal.read_bytes()
    assert token.encode() not in raw
    with sqlite3.connect(tmp_path / "central.db") as conn:
        (stored,) = conn.execute("SELECT token_hash FROM agent").fetchone()
    assert stored == hash_token(token)

    listed = cli("agent", "list", database_url=db)
    assert "plant=refinery-1" in listed.stdout
    assert "region=north" in listed.stdout
    assert token not in listed.stdout

    again = cli(
        "agent",
        "add",
        "--plant",
        "refinery-1",
        "--agent-id",
        listed.stdout.split()[0],
        database_url=db,
    )
    assert again.returncode == 1
    assert "exists already" in again.stderr
    wrong_region = cli(
        "agent", "add", "--plant", "refinery-1", "--region", "south", database_url=db
    )
    assert wrong_region.returncode == 1
    assert "is in region 'north', not 'south'" in wrong_region.stderr


def test_user_add_takes_the_password_from_a_file_or_the_environment(
    db: str, tmp_path: Path
) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("file-password-123\nignored second line\n")
    done = cli(
        "user",
        "add",
        "alice",
        "--role",
        "admin",
        "--password-file",
        str(secret_file),
        database_url=db,
    )
    assert done.returncode == 0, done.stderr
    done = cli(
        "user",
        "add",
        "bob",
        "--role",
        "viewer",
        database_url=db,
        env={"HSE_CENTRAL_USER_PASSWORD": "env-password-123"},
    )
    assert done.returncode == 0, done.stderr
    listed = cli("user", "list", database_url=db).stdout
    assert "alice\trole=admin\tscope=fleet" in listed
    assert "bob\trole=viewer" in listed
    assert "password" not in listed


def test_user_add_refusals_never_echo_the_password(db: str, tmp_path: Path) -> None:
    no_password = cli("user", "add", "carol", "--role", "viewer", database_url=db)
    assert no_password.returncode == 2
    assert "no password" in no_password.stderr
    short = cli(
        "user",
        "add",
        "carol",
        "--role",
        "viewer",
        database_url=db,
        env={"HSE_CENTRAL_USER_PASSWORD": "tiny-pw"},
    )
    assert short.returncode == 2
    assert "password" in short.stderr
    assert "tiny-pw" not in short.stderr + short.stdout
    bad_scope = cli(
        "user",
        "add",
        "carol",
        "--role",
        "viewer",
        "--scope",
        "galaxy:x",
        database_url=db,
        env={"HSE_CENTRAL_USER_PASSWORD": "long-enough-pw"},
    )
    assert bad_scope.returncode == 2
    assert "--scope 'galaxy:x'" in bad_scope.stderr
    unknown_plant = cli(
        "user",
        "add",
        "carol",
        "--role",
        "viewer",
        "--scope",
        "plant:nowhere",
        database_url=db,
        env={"HSE_CENTRAL_USER_PASSWORD": "long-enough-pw"},
    )
    assert unknown_plant.returncode == 1
    assert "no plant 'nowhere'" in unknown_plant.stderr


def test_settings_errors_name_key_and_value_but_no_secret(db: str) -> None:
    done = cli("init", database_url=db, env={"HSE_CENTRAL_MAX_BODY_BYTES": "lots"})
    assert done.returncode == 2
    assert "HSE_CENTRAL_MAX_BODY_BYTES: max_body_bytes = 'lots'" in done.stderr
    secret_url = "mysql://app:s3cr3t-pw@db/hse"
    done = cli("init", database_url=secret_url)
    assert done.returncode == 2
    assert "database_url = 'mysql://app:***@db/hse'" in done.stderr
    assert "s3cr3t-pw" not in done.stderr
    shown = cli("config", "show", database_url="postgresql://app:s3cr3t-pw@127.0.0.1:1/x")
    assert shown.returncode == 0
    assert '"database_url": "postgresql://app:***@127.0.0.1:1/x"' in shown.stdout
    assert "s3cr3t-pw" not in shown.stdout


@pytest.mark.parametrize("database", DATABASES)
def test_cli_registered_agent_and_user_work_against_a_served_api(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'central.db'}"
    else:
        from tests.support.central import reset_postgres

        url = str(request.getfixturevalue("postgres_url"))
        reset_postgres(url)
    assert cli("init", database_url=url).returncode == 0
    token = cli(
        "agent", "add", "--plant", "site-9", "--agent-id", "site-9-a", database_url=url
    ).stdout.strip()
    password_env = {"HSE_CENTRAL_USER_PASSWORD": "viewer-password-9"}
    assert (
        cli(
            "user", "add", "vera", "--role", "viewer", database_url=url, env=password_env
        ).returncode
        == 0
    )

    with (
        running_server(url, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        b = batch("site-9-a", "site-9", readings=[reading(Seqs(), "site-9/gd/h2s", 3.5, at(0))])
        r = c.post("/api/v1/ingest", content=encode(b), headers=gzip_headers(token))
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == [[1, 1]]
        login = c.post(
            "/api/v1/auth/token", data={"username": "vera", "password": "viewer-password-9"}
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        latest = c.get("/api/v1/plants/site-9/latest", headers=auth).json()
        assert [(p["point"], p["value"]) for p in latest["points"]] == [("site-9/gd/h2s", 3.5)]
        assert c.get("/healthz").json() == {"status": "ok", "database": "ok"}
        docs = c.get("/api/v1/openapi.json").json()
        assert "/api/v1/ingest" in docs["paths"]
        metrics = c.get("/metrics").text
        assert 'hse_central_ingest_records_total{kind="reading"} 1.0' in metrics
    log = server.child.log_path.read_text(errors="replace")
    assert token not in log
    assert "viewer-password-9" not in log


def test_a_database_from_newer_code_is_refused(db: str, tmp_path: Path) -> None:
    assert cli("init", database_url=db).returncode == 0
    with sqlite3.connect(tmp_path / "central.db") as conn:
        conn.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    done = cli("init", database_url=db)
    assert done.returncode == 1
    assert f"schema version 99, newer than this code's {SCHEMA_VERSION}" in done.stderr
