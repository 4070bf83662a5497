"""Access control end to end: every default role, every data category and action, a request in
the role's scope and one outside it; masking of personal fields; the audit entries of personal
reads and exports; the lock on a burst of exports out of hours (injected clock), refused
afterwards, unlocked by an admin, all audited. In process, on SQLite and PostgreSQL.

The expected outcome of each request comes from the matrix of ``central.core.permissions``,
which ``tests/unit/test_central_permissions.py`` checks cell by cell against a table written
independently; here the API must do what the matrix says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from central.core.permissions import Action, Category, allows
from protocols.sync import AlarmEvent, ErrorDetail
from tests.support.central import (
    VIEWER_PASSWORD,
    Seqs,
    SetClock,
    Target,
    asgi_target,
    at,
    batch,
    point_info,
    reading,
    sql,
)

TZ = "Asia/Shanghai"
# 12:00 in Shanghai: office hours, so the matrix walk never trips the export guard.
NOON = datetime(2025, 6, 2, 4, 0, tzinfo=UTC)
# 02:00 in Shanghai.
NIGHT = datetime(2025, 6, 2, 18, 0, tzinfo=UTC)
MINE, SISTER, THEIRS = "north-1", "north-2", "south-1"
SCOPES = {
    "admin": "fleet",
    "hq_director": "fleet",
    "regional_manager": "region:north",
    "plant_safety_officer": f"plant:{MINE}",
    "operator": f"plant:{MINE}",
    "auditor": "fleet",
    "viewer": f"plant:{MINE}",
}
FLEET_ROLES = {r for r, s in SCOPES.items() if s == "fleet"}
PERSON = "P-100"


def h2s(plant: str) -> str:
    return f"{plant}/gd-1/h2s"


def alarm_of(plant: str) -> str:
    return f"{h2s(plant)}:hh"


@dataclass
class World:
    database_url: str
    admin_name: str
    tokens: dict[str, str]
    """role -> a logged-in user's token."""
    names: dict[str, str]


async def _seed(database_url: str, admin_name: str) -> World:
    clock = SetClock(0)
    clock.set(NOON)
    async with asgi_target(database_url, admin_name, clock=clock, timezone=TZ) as t:
        admin = await t.admin_token()
        for region in ("north", "south"):
            r = await t.client.post("/api/v1/regions", json={"key": region}, headers=t.auth(admin))
            assert r.status_code == 201, r.text
        for plant, region in ((MINE, "north"), (SISTER, "north"), (THEIRS, "south")):
            r = await t.client.post(
                "/api/v1/plants",
                json={"key": plant, "region": region, "limit_set": "cn-gbz-2019", "timezone": TZ},
                headers=t.auth(admin),
            )
            assert r.status_code == 201, r.text
            _p, agent, token = await t.new_agent(plant, region=region)
            seqs = Seqs()
            point = h2s(plant)
            ev = [
                AlarmEvent(seq=seqs.take(), event_id=f"{plant}-1", point=point, category="alarm",
                           kind="limit.hh", transition="raise", state="active_unacked",
                           priority="critical", value=25.0, limit=20.0, ts=at(30),
                           details={"alarm_id": alarm_of(plant), "active": True, "acked": False}),
                AlarmEvent(seq=seqs.take(), event_id=f"{plant}-2", point=point,
                           category="exposure", kind="exposure.stel", transition="raise",
                           state="active_unacked", priority="high", value=6.0, limit=5.0,
                           ts=at(40), details={"alarm_id": f"{point}:stel"}),
            ]  # fmt: skip
            readings = [reading(seqs, point, 1.0 + i, at(60 * i)) for i in range(5)]
            b = batch(agent, plant, readings=readings, events=ev, points=[point_info(point)])
            r = await t.ingest(b, token)
            assert r.status_code == 200, r.text
            body = {"records": [{"person_id": PERSON, "name": f"Person of {plant}",
                                 "badge_id": "B-1", "phone": "+86 100", "date_of_birth": "1980-01-02",
                                 "health_notes": "asthma",
                                 "qualifications": [{"name": "h2s", "expires": "2030-01-01"}]}]}  # fmt: skip
            r = await t.client.post(f"/api/v1/personnel/{plant}", json=body, headers=t.auth(admin))
            assert r.status_code == 200, r.text
        tokens, names = {}, {}
        for role, scope in SCOPES.items():
            kind, _, key = scope.partition(":")
            name = f"{role}-{len(names)}"
            r = await t.client.post(
                "/api/v1/users",
                json={"username": name, "password": VIEWER_PASSWORD, "role": role,
                      "scope_kind": kind, "scope_key": key or None},
                headers=t.auth(admin),
            )  # fmt: skip
            assert r.status_code == 201, r.text
            tokens[role] = await t.login(name, VIEWER_PASSWORD)
            names[role] = name
    return World(database_url, admin_name, tokens, names)


@pytest.fixture(scope="module")
def world(database_url: str, admin_name: str) -> World:
    return asyncio.run(_seed(database_url, admin_name))


@pytest.fixture
def clock() -> SetClock:
    c = SetClock(0)
    c.set(NOON)
    return c


@pytest.fixture
async def target(world: World, clock: SetClock) -> AsyncIterator[Target]:
    async with asgi_target(world.database_url, world.admin_name, clock=clock, timezone=TZ) as t:
        yield t


# --- one request per (category, action), against a plant ------------------------------------

Call = Callable[[Target, str, str, str], Awaitable[httpx.Response]]


def _get(path: str, **params: object) -> Call:
    async def call(t: Target, token: str, plant: str, role: str) -> httpx.Response:
        filled = {
            k: (v.format(plant=plant) if isinstance(v, str) else v) for k, v in params.items()
        }
        return await t.get(
            path.format(plant=plant, alarm=alarm_of(plant), person=PERSON), token, **filled
        )

    return call


def _send(method: str, path: str, body: Callable[[str, str], object]) -> Call:
    async def call(t: Target, token: str, plant: str, role: str) -> httpx.Response:
        url = path.format(plant=plant, alarm=alarm_of(plant), person=PERSON)
        return await t.client.request(method, url, json=body(plant, role), headers=t.auth(token))

    return call


REQUESTS: dict[tuple[Category, Action], Call] = {
    (Category.ORGANISATION, Action.READ): _get("/api/v1/plants/{plant}"),
    (Category.ORGANISATION, Action.MANAGE): _send("PATCH", "/api/v1/plants/{plant}", lambda p, r: {"name": f"{p} ({r})"}),
    (Category.READINGS, Action.READ): _get("/api/v1/plants/{plant}/latest"),
    (Category.ALARMS, Action.READ): _get("/api/v1/alarms", plant="{plant}", state="all"),
    (Category.ALARMS, Action.ACT): _send("POST", "/api/v1/alarms/{alarm}/comment", lambda p, r: {"text": f"seen by {r}"}),
    (Category.ALARMS, Action.MANAGE): _send("POST", "/api/v1/alarms/{alarm}/shelve", lambda p, r: {"reason": "sensor swap", "minutes": 30}),
    (Category.EXPOSURE, Action.READ): _get("/api/v1/events", plant="{plant}", category="exposure"),
    (Category.PERSONNEL, Action.READ): _get("/api/v1/personnel", plant="{plant}"),
    (Category.PERSONNEL, Action.EXPORT): _get("/api/v1/personnel/export", plant="{plant}"),
    (Category.PERSONNEL, Action.MANAGE): _send("PUT", "/api/v1/personnel/{plant}/{person}", lambda p, r: {
        "person_id": PERSON, "name": f"Person of {p}", "badge_id": "B-1", "phone": "+86 100",
        "date_of_birth": "1980-01-02", "health_notes": "asthma",
        "qualifications": [{"name": "h2s", "expires": "2030-01-01"}]}),
    (Category.COMPLIANCE, Action.READ): _get("/api/v1/compliance/ledger", plant="{plant}", start="2025-06-01T00:00:00Z", end="2025-06-02T00:00:00Z"),
    (Category.COMPLIANCE, Action.ACT): _send("PUT", "/api/v1/plants/{plant}/extensions/plant/{plant}", lambda p, r: {"values": {}}),
    (Category.COMPLIANCE, Action.EXPORT): _get("/api/v1/compliance/report", plant="{plant}", format="csv", start="2025-06-01T00:00:00Z", end="2025-06-02T00:00:00Z"),
    (Category.COMPLIANCE, Action.MANAGE): _send("POST", "/api/v1/plants/{plant}/extension-fields", lambda p, r: {"name": f"f_{r}", "type": "boolean"}),
    (Category.AUDIT, Action.READ): _get("/api/v1/audit", plant="{plant}"),
}  # fmt: skip
PLANTLESS: dict[tuple[Category, Action], Call] = {
    (Category.AUDIT, Action.EXPORT): _get("/api/v1/audit/export"),
}
CASES = [(role, c, a) for role in SCOPES for (c, a) in [*REQUESTS, *PLANTLESS]]


def test_every_matrix_cell_with_an_endpoint_is_exercised() -> None:
    exercised = {*REQUESTS, *PLANTLESS, (Category.PERSONAL, Action.READ)}
    held = {(c, a) for role in SCOPES for c in Category for a in Action if allows(role, c, a)}
    assert held <= exercised, sorted(held - exercised)


def _status_ok(r: httpx.Response) -> bool:
    return r.status_code in {200, 201, 202}


@pytest.mark.parametrize(("role", "category", "action"), CASES)
async def test_in_scope_allowed_out_of_scope_refused(
    world: World, target: Target, role: str, category: Category, action: Action
) -> None:
    token = world.tokens[role]
    allowed = allows(role, category, action)
    call = REQUESTS.get((category, action)) or PLANTLESS[(category, action)]
    inside = await call(target, token, MINE, role)
    if allowed:
        assert _status_ok(inside), inside.text
    else:
        assert inside.status_code == 403, inside.text
        assert ErrorDetail.model_validate_json(inside.content).error in {"forbidden", "needs_admin"}
    if (category, action) in PLANTLESS:
        return
    # Outside the scope: another region's plant for scoped roles; a fleet scope has no outside,
    # so a plant that does not exist stands in. Either way: 404, as if it did not exist.
    outside = THEIRS if role not in FLEET_ROLES else "no-such-plant"
    beyond = await call(target, token, outside, role)
    assert beyond.status_code == (404 if allowed else 403), beyond.text


async def test_a_regional_manager_reaches_every_plant_of_the_region(
    world: World, target: Target
) -> None:
    token = world.tokens["regional_manager"]
    for plant in (MINE, SISTER):
        assert (await target.get(f"/api/v1/plants/{plant}/latest", token)).status_code == 200
    assert (await target.get(f"/api/v1/plants/{THEIRS}/latest", token)).status_code == 404
    plants = (await target.get("/api/v1/plants", token)).json()["plants"]
    assert sorted(p["plant"] for p in plants) == [MINE, SISTER]


# --- personal data: masked, and every read audited ------------------------------------------


def audit_rows(url: str, actor: str) -> list[tuple[Any, ...]]:
    return sql(
        url,
        "SELECT action, records, export, out_of_hours, client_ip, user_agent, details, plant_id "
        "FROM audit_log WHERE actor = :a ORDER BY id",
        a=actor,
    )


@pytest.mark.parametrize(
    "role", ["plant_safety_officer", "hq_director", "regional_manager", "admin"]
)
async def test_personal_fields_are_masked_unless_the_role_may_read_them(
    world: World, target: Target, role: str
) -> None:
    token = world.tokens[role]
    before = len(audit_rows(world.database_url, world.names[role]))
    one = await target.get(f"/api/v1/personnel/{MINE}/{PERSON}", token)
    many = await target.get("/api/v1/personnel", token, plant=MINE)
    assert one.status_code == many.status_code == 200, (one.text, many.text)
    (listed,) = many.json()["people"]
    for person in (one.json(), listed):
        assert person["name"] == f"Person of {MINE}"
        assert person["qualifications"] == [
            {"name": "h2s", "expires": "2030-01-01", "expired": False}
        ]
        if allows(role, Category.PERSONAL, Action.READ):
            assert (person["phone"], person["date_of_birth"], person["health_notes"]) == (
                "+86 100", "1980-01-02", "asthma")  # fmt: skip
            assert person["personal_masked"] is False
        else:
            assert person["phone"] == person["date_of_birth"] == person["health_notes"] == "***"
            assert person["personal_masked"] is True
    rows = audit_rows(world.database_url, world.names[role])[before:]
    assert [r[0] for r in rows] == ["personnel.read", "personnel.read"]
    for _action, records, export, _late, ip, agent, details, plant_id in rows:
        assert _json(records) == [PERSON]
        assert _json(details)["personal_fields"] is allows(role, Category.PERSONAL, Action.READ)
        assert not export
        assert ip == "127.0.0.1"
        assert agent.startswith("python-httpx/")
        assert plant_id is not None


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def test_every_export_is_audited_with_its_records(world: World, target: Target) -> None:
    token = world.tokens["plant_safety_officer"]
    name = world.names["plant_safety_officer"]
    before = len(audit_rows(world.database_url, name))
    csv_file = await target.get("/api/v1/personnel/export", token, plant=MINE)
    assert csv_file.status_code == 200
    assert csv_file.text.splitlines()[1].startswith(
        f"{PERSON},Person of {MINE},B-1,+86 100,1980-01-02,asthma,h2s=2030-01-01"
    )
    report = await target.get("/api/v1/compliance/report", token, plant=MINE, format="html",
                              start="2025-06-01T00:00:00Z", end="2025-06-02T00:00:00Z")  # fmt: skip
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    rows = audit_rows(world.database_url, name)[before:]
    assert [(r[0], bool(r[2]), bool(r[3])) for r in rows] == [
        ("personnel.export", True, False),
        ("compliance.export", True, False),
    ]
    assert _json(rows[0][1]) == [PERSON]
    assert _json(rows[1][1]) == [f"{MINE}:2025-06-01T00:00:00Z/2025-06-02T00:00:00Z"]
    masked = await target.get("/api/v1/personnel/export", world.tokens["admin"], plant=MINE)
    assert masked.status_code == 403  # admin manages personnel but does not export it


# --- the export guard -------------------------------------------------------------------------


@pytest.fixture
async def fresh_officer(target: Target) -> tuple[str, str]:
    """A plant safety officer of its own, so locking it spares the other tests."""
    name = f"pso-{datetime.now(UTC).strftime('%H%M%S%f')}"
    admin = await target.admin_token()
    r = await target.client.post(
        "/api/v1/users",
        json={"username": name, "password": VIEWER_PASSWORD, "role": "plant_safety_officer",
              "scope_kind": "plant", "scope_key": MINE},
        headers=target.auth(admin),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return name, await target.login(name, VIEWER_PASSWORD)


async def _export(t: Target, token: str) -> httpx.Response:
    return await t.get("/api/v1/compliance/report", token, plant=MINE, format="csv",
                       start="2025-06-01T00:00:00Z", end="2025-06-02T00:00:00Z")  # fmt: skip


async def test_a_burst_of_exports_out_of_hours_locks_the_account_until_an_admin_unlocks_it(
    world: World, target: Target, clock: SetClock, fresh_officer: tuple[str, str]
) -> None:
    name, token = fresh_officer
    clock.set(NIGHT)
    for _ in range(5):  # the limit: 5 in 10 minutes
        assert (await _export(target, token)).status_code == 200
        clock.advance(60)
    sixth = await _export(target, token)
    assert sixth.status_code == 403
    refused = ErrorDetail.model_validate_json(sixth.content)
    assert refused.error == "account_locked"
    assert (
        "6 exports within 600 s outside office hours 07:00-19:00 (Asia/Shanghai)" in refused.detail
    )
    assert "an admin must review and unlock it" in refused.detail

    # Locked: the token, other reads and a fresh login are all refused.
    assert (await target.get("/api/v1/me", token)).status_code == 403
    assert (await target.get(f"/api/v1/plants/{MINE}/latest", token)).status_code == 403
    login = await target.client.post(
        "/api/v1/auth/token", data={"username": name, "password": VIEWER_PASSWORD}
    )
    assert login.status_code == 403
    assert login.json()["error"] == "account_locked"
    admin = await target.admin_token()
    locked = (await target.get("/api/v1/users", admin, locked=True)).json()
    assert name in [u["username"] for u in locked]

    unlock = await target.client.post(
        f"/api/v1/users/{name}/unlock", json={"comment": "night shift audit prep, agreed"},
        headers=target.auth(admin),
    )  # fmt: skip
    assert unlock.status_code == 200, unlock.text
    assert unlock.json()["locked_ts"] is None
    assert (await target.get("/api/v1/me", token)).status_code == 200

    rows = audit_rows(world.database_url, name)
    actions = [(r[0], bool(r[2]), bool(r[3])) for r in rows]
    assert actions == [("compliance.export", True, True)] * 6 + [("account.lock", False, False)]
    assert _json(rows[5][6])["refused"] == "account locked"
    unlocked = sql(world.database_url, "SELECT actor, records, details FROM audit_log "
                   "WHERE action = 'account.unlock' ORDER BY id DESC LIMIT 1")  # fmt: skip
    assert unlocked[0][0] == world.admin_name
    assert _json(unlocked[0][1]) == [f"user:{name}"]
    assert _json(unlocked[0][2])["comment"] == "night shift audit prep, agreed"

    # The auditor sees the flag and the unlock through the API.
    seen = await target.get(
        "/api/v1/audit", world.tokens["auditor"], action="account.*", plant=MINE
    )
    assert [e["action"] for e in seen.json()["entries"]][:1] == ["account.lock"]


@pytest.mark.parametrize("when", ["office", "spread"])
async def test_exports_in_office_hours_or_spread_out_do_not_lock(
    target: Target, clock: SetClock, fresh_officer: tuple[str, str], when: str
) -> None:
    _name, token = fresh_officer
    clock.set(NOON if when == "office" else NIGHT)
    for _ in range(8):
        assert (await _export(target, token)).status_code == 200
        clock.advance(30 if when == "office" else 11 * 60)  # 11 min: one per window


async def test_audit_rows_cannot_be_changed_or_deleted(world: World) -> None:
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(world.database_url, statement)


# --- API tokens --------------------------------------------------------------------------------


async def test_api_tokens_are_scoped_like_users_hashed_and_revocable(
    world: World, target: Target
) -> None:
    admin = await target.admin_token()
    name = f"hr-sync-{datetime.now(UTC).strftime('%H%M%S%f')}"
    r = await target.client.post(
        "/api/v1/tokens",
        json={
            "name": name,
            "role": "plant_safety_officer",
            "scope_kind": "plant",
            "scope_key": MINE,
        },
        headers=target.auth(admin),
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith("hse_api_")
    stored = sql(world.database_url, "SELECT token_hash FROM api_token WHERE name = :n", n=name)
    assert token not in str(stored)

    me = (await target.get("/api/v1/me", token)).json()
    assert (me["kind"], me["role"], me["scope"]["plants"]) == (
        "token",
        "plant_safety_officer",
        [MINE],
    )
    assert me["permissions"]["personal"] == ["read"]
    assert (await target.get("/api/v1/personnel", token, plant=MINE)).status_code == 200
    assert (await target.get("/api/v1/personnel", token, plant=THEIRS)).status_code == 404
    assert (await target.get("/api/v1/users", token)).status_code == 403

    r = await target.client.delete(f"/api/v1/tokens/{created['id']}", headers=target.auth(admin))
    assert r.json()["revoked_at"] is not None
    gone = await target.get("/api/v1/me", token)
    assert gone.status_code == 401
    entries = (await target.get("/api/v1/audit", admin, action="token.*")).json()["entries"]
    mine = [e["action"] for e in reversed(entries) if e["records"] == [f"token:{name}"]]
    assert mine == ["token.create", "token.revoke"]


async def test_a_role_cannot_hold_a_scope_it_was_not_made_for(target: Target) -> None:
    admin = await target.admin_token()
    for role, kind, key in (("operator", "fleet", None), ("regional_manager", "plant", MINE),
                            ("hq_director", "region", "north")):  # fmt: skip
        r = await target.client.post(
            "/api/v1/users",
            json={"username": f"x-{role}", "password": VIEWER_PASSWORD, "role": role,
                  "scope_kind": kind, "scope_key": key},
            headers=target.auth(admin),
        )  # fmt: skip
        assert r.status_code == 422, r.text
        assert f"role {role!r} holds scope" in r.json()["detail"]


async def test_an_api_token_is_locked_by_a_burst_too_and_unlocked_by_an_admin(
    world: World, target: Target, clock: SetClock
) -> None:
    admin = await target.admin_token()
    name = f"report-bot-{datetime.now(UTC).strftime('%H%M%S%f')}"
    r = await target.client.post(
        "/api/v1/tokens",
        json={"name": name, "role": "auditor", "scope_kind": "fleet"},
        headers=target.auth(admin),
    )
    token_id, token = r.json()["id"], r.json()["token"]
    clock.set(NIGHT)
    statuses = [(await _export(target, token)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [403]
    refused = await target.get("/api/v1/audit", token)
    assert refused.status_code == 403
    assert f"POST /api/v1/tokens/{token_id}/unlock" in refused.json()["detail"]
    listed = {t["name"]: t for t in (await target.get("/api/v1/tokens", admin)).json()}
    assert listed[name]["locked_at"] is not None
    r = await target.client.post(f"/api/v1/tokens/{token_id}/unlock", headers=target.auth(admin))
    assert r.status_code == 200, r.text
    assert r.json()["locked_at"] is None
    assert (await target.get("/api/v1/audit", token)).status_code == 200
    entries = (await target.get("/api/v1/audit", admin, action="account.*")).json()["entries"]
    mine = [e["action"] for e in reversed(entries) if e["records"] == [f"token:{name}"]]
    assert mine == ["account.lock", "account.unlock"]
