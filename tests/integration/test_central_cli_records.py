"""``hse-central`` for the records side, as an operator runs it (real processes, a real SQLite
file): plants with limit sets and time zones, users by role and scope, API tokens, unlocking an
account, personnel import with errors naming line and column, and the audit rows they leave."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.central import cli, sqlite_url

PASSWORD = {"HSE_CENTRAL_USER_PASSWORD": "a-long-password-1"}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


def query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "central.db") as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize(
    "args",
    [
        ("region", "add"),
        ("plant", "add"),
        ("plant", "set"),
        ("user", "unlock"),
        ("token", "add"),
        ("token", "revoke"),
        ("personnel", "import"),
    ],
)
def test_help(args: tuple[str, ...], db: str) -> None:
    done = cli(*args, "--help", database_url=db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: hse-central")


def test_org_users_tokens_personnel_and_unlock(db: str, tmp_path: Path) -> None:
    assert cli("region", "add", "south", "--name", "South China", database_url=db).returncode == 0
    done = cli("plant", "add", "gz-1", "--region", "south", "--limit-set", "cn-gbz-2019",
               "--timezone", "Asia/Shanghai", database_url=db)  # fmt: skip
    assert done.returncode == 0, done.stderr
    bad = cli("plant", "set", "gz-1", "--limit-set", "moon-2099", database_url=db)
    assert bad.returncode == 1
    assert "unknown limit set 'moon-2099'" in bad.stderr
    assert "cn-gbz-2019" in bad.stderr
    bad = cli("plant", "set", "gz-1", "--timezone", "Mars/Olympus", database_url=db)
    assert bad.returncode == 1
    assert "unknown time zone 'Mars/Olympus'" in bad.stderr
    listed = cli("plant", "list", database_url=db).stdout
    assert "gz-1\tregion=south\tlimit_set=cn-gbz-2019\ttimezone=Asia/Shanghai" in listed

    done = cli(
        "user",
        "add",
        "chen",
        "--role",
        "plant_safety_officer",
        "--plant",
        "gz-1",
        database_url=db,
        env=PASSWORD,
    )
    assert done.returncode == 0, done.stderr
    assert "role plant_safety_officer, scope plant:gz-1" in done.stderr
    done = cli(
        "user",
        "add",
        "wu",
        "--role",
        "regional_manager",
        "--region",
        "south",
        database_url=db,
        env=PASSWORD,
    )
    assert done.returncode == 0, done.stderr
    wrong = cli("user", "add", "ma", "--role", "operator", database_url=db, env=PASSWORD)
    assert wrong.returncode == 1
    assert "role 'operator' holds scope plant, not 'fleet'" in wrong.stderr

    token = cli(
        "token",
        "add",
        "hr-sync",
        "--role",
        "plant_safety_officer",
        "--plant",
        "gz-1",
        database_url=db,
    )
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("hse_api_")
    assert len(token.stdout.splitlines()) == 1
    assert token.stdout.strip() not in json.dumps(query(tmp_path, "SELECT * FROM api_token"))

    csv_file = tmp_path / "hr.csv"
    csv_file.write_text(
        "person_id,name,qualifications\nP-1,Li Wei,h2s=2026-03-01\nP-2,Wang Fang,\n"
    )
    done = cli("personnel", "import", str(csv_file), "--plant", "gz-1", database_url=db)
    assert done.returncode == 0, done.stderr
    assert "2 people for plant 'gz-1': 2 new" in done.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("person_id,name,qualifications\nP-1,Li Wei,h2s=2026-03-01\nP-3,,\n")
    done = cli("personnel", "import", str(broken), "--plant", "gz-1", database_url=db)
    assert done.returncode == 1
    assert f"{broken} line 3, column 'name': required, but the cell is empty" in done.stderr

    query(
        tmp_path,
        "UPDATE app_user SET locked_ts = 1, locked_reason = 'test' WHERE username = 'chen'",
    )
    assert "LOCKED since" in cli("user", "list", database_url=db).stdout
    done = cli("user", "unlock", "chen", "--comment", "reviewed with HSE", database_url=db)
    assert done.returncode == 0, done.stderr
    assert query(tmp_path, "SELECT locked_ts FROM app_user WHERE username = 'chen'") == [(None,)]
    revoke = cli("token", "revoke", "hr-sync", database_url=db)
    assert revoke.returncode == 0, revoke.stderr

    audit = query(tmp_path, "SELECT actor_kind, action, records FROM audit_log ORDER BY id")
    assert [(kind, action) for kind, action, _r in audit] == [
        ("cli", "token.create"),
        ("cli", "personnel.import"),
        ("cli", "account.unlock"),
        ("cli", "token.revoke"),
    ]
    assert json.loads(str(audit[1][2])) == ["P-1", "P-2"]
    commands = query(tmp_path, "SELECT kind FROM command")
    assert commands == []  # no agent yet: nobody to send the list to
    done = cli("agent", "add", "--plant", "gz-1", database_url=db)
    assert done.returncode == 0, done.stderr
    assert query(tmp_path, "SELECT kind FROM command") == [("personnel.sync",)]
