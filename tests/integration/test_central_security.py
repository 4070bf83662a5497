"""Who may do what, and what bad input gets: every refusal is a clear 4xx ``ErrorDetail``
naming the problem, and leaves nothing partly stored (rows counted before and after).

Runs the app in process (``httpx.ASGITransport``) on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog

from central.core.security import hash_token
from protocols.sync import ErrorDetail
from tests.support.central import (
    VIEWER_PASSWORD,
    Seqs,
    Target,
    asgi_target,
    at,
    batch,
    encode,
    event,
    gap,
    reading,
    sql,
)

LIMITS = {"max_body_bytes": 200_000, "max_inflated_bytes": 1_000_000, "max_records_per_batch": 50}


@pytest.fixture
async def target(database_url: str, admin_name: str) -> AsyncIterator[Target]:
    async with asgi_target(database_url, admin_name, **LIMITS) as t:
        yield t


def refusal(response: httpx.Response, status: int, error: str) -> ErrorDetail:
    assert response.status_code == status, response.text
    detail = ErrorDetail.model_validate_json(response.content)
    assert detail.error == error, detail
    return detail


def nothing_stored(counts: dict[str, int]) -> bool:
    return all(n == 0 for n in counts.values())


async def test_ingest_without_a_valid_agent_token_is_401(target: Target) -> None:
    plant, agent, _token = await target.new_agent()
    body = encode(batch(agent, plant, readings=[reading(Seqs(), f"{plant}/d/p", 1.0, at(0))]))
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer hse_agent_" + "A" * 43},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        r = await target.client.post(
            "/api/v1/ingest", content=body, headers={"Content-Encoding": "gzip", **headers}
        )
        detail = refusal(r, 401, "unauthenticated")
        assert "token" in detail.detail
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert nothing_stored(target.counts(agent))


async def test_agent_cannot_write_another_plants_data(target: Target) -> None:
    plant_a, agent_a, token_a = await target.new_agent()
    plant_b, agent_b, _token_b = await target.new_agent()
    seqs = Seqs()

    as_b = batch(agent_a, plant_b, readings=[reading(seqs, f"{plant_b}/d/p", 1.0, at(0))])
    detail = refusal(await target.ingest(as_b, token_a), 403, "wrong_plant")
    assert detail.location == ["plant_id"]
    assert plant_b in detail.detail

    sneaky = batch(
        agent_a,
        plant_a,
        readings=[
            reading(seqs, f"{plant_a}/d/p", 1.0, at(1)),
            reading(seqs, f"{plant_a}/d/p", 2.0, at(2)),
            reading(seqs, f"{plant_b}/d/p", 3.0, at(3)),
        ],
    )
    detail = refusal(await target.ingest(sneaky, token_a), 403, "wrong_plant")
    assert detail.location == ["readings", 2, "point"]
    assert "readings[2].point" in detail.detail

    in_event = batch(agent_a, plant_a, events=[event(seqs, f"{plant_b}/d/p", at(4))])
    assert refusal(await target.ingest(in_event, token_a), 403, "wrong_plant").location == [
        "events",
        0,
        "point",
    ]

    other_agent = batch(agent_b, plant_a, readings=[reading(seqs, f"{plant_a}/d/p", 1.0, at(5))])
    assert refusal(await target.ingest(other_agent, token_a), 403, "wrong_agent")

    assert nothing_stored(target.counts(agent_a))
    assert nothing_stored(target.counts(agent_b))
    points_b = sql(
        target.database_url,
        "SELECT count(*) FROM point JOIN plant ON plant.id = point.plant_id WHERE plant.key = :k",
        k=plant_b,
    )
    assert points_b == [(0,)]


async def test_a_user_token_cannot_ingest(target: Target) -> None:
    plant, agent, _token = await target.new_agent()
    user_token = await target.new_user(role="admin")
    b = batch(agent, plant, readings=[reading(Seqs(), f"{plant}/d/p", 1.0, at(0))])
    refusal(await target.ingest(b, user_token), 403, "user_token")
    assert nothing_stored(target.counts(agent))


async def test_an_agent_token_cannot_read(target: Target) -> None:
    _plant, _agent, token = await target.new_agent()
    r = await target.get("/api/v1/plants", token)
    refusal(r, 401, "unauthenticated")


async def test_viewer_cannot_register_agents_or_users_admin_can(target: Target) -> None:
    viewer = await target.new_user(role="viewer")
    r = await target.client.post(
        "/api/v1/agents", json={"plant": "plant-x"}, headers=target.auth(viewer)
    )
    refusal(r, 403, "needs_admin")
    r = await target.client.post(
        "/api/v1/users",
        json={"username": "mallory", "password": "x" * 12, "role": "admin"},
        headers=target.auth(viewer),
    )
    refusal(r, 403, "needs_admin")
    refusal(await target.get("/api/v1/users", viewer), 403, "needs_admin")
    plants = (await target.get("/api/v1/plants", viewer)).json()["plants"]
    assert "plant-x" not in [p["plant"] for p in plants]

    plant, agent, token = await target.new_agent()  # as admin
    ok = await target.ingest(
        batch(agent, plant, readings=[reading(Seqs(), f"{plant}/d/p", 1.0, at(0))]), token
    )
    assert ok.status_code == 200, ok.text


def _valid_readings(plant: str, seqs: Seqs, n: int = 5) -> list[object]:
    return [reading(seqs, f"{plant}/gd-1/h2s", float(i), at(i)) for i in range(n)]


def _batch_json(agent: str, plant: str) -> dict[str, object]:
    b = batch(agent, plant, readings=_valid_readings(plant, Seqs()))  # type: ignore[arg-type]
    return json.loads(b.model_dump_json())  # type: ignore[no-any-return]


def _gz(doc: object) -> bytes:
    return gzip.compress(json.dumps(doc).encode())


async def test_malformed_json_is_422_naming_where(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    text_body = json.dumps(_batch_json(agent, plant))
    cut = gzip.compress(text_body[: len(text_body) // 2].encode())
    detail = refusal(await target.ingest(cut, token), 422, "malformed_json")
    assert "Invalid JSON" in detail.detail
    assert "line 1 column" in detail.detail
    assert nothing_stored(target.counts(agent))


async def test_schema_violation_is_422_with_its_location(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    doc = _batch_json(agent, plant)
    doc["readings"][1]["source_ts"] = "yesterday"  # type: ignore[index]
    del doc["readings"][3]["quality"]  # type: ignore[index]
    detail = refusal(await target.ingest(_gz(doc), token), 422, "schema")
    assert detail.location == ["readings", 1, "source_ts"]
    assert "readings[1].source_ts" in detail.detail
    assert "'yesterday'" in detail.detail
    assert "readings[3].quality: Field required" in detail.detail
    assert nothing_stored(target.counts(agent))


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), "1970-01-01T00:00:00Z is before 2000-01-01"),
        (datetime.now(UTC) + timedelta(days=365), "ahead of the server clock"),
    ],
    ids=["1970", "next-year"],
)
async def test_absurd_timestamps_are_422_naming_record_and_field(
    target: Target, ts: datetime, expected: str
) -> None:
    plant, agent, token = await target.new_agent()
    seqs = Seqs()
    readings = _valid_readings(plant, seqs, 3)
    readings.append(reading(seqs, f"{plant}/gd-1/h2s", 1.0, ts))
    detail = refusal(
        await target.ingest(batch(agent, plant, readings=readings), token),  # type: ignore[arg-type]
        422,
        "implausible_timestamp",
    )
    assert detail.location == ["readings", 3, "source_ts"]
    assert detail.detail.startswith("readings[3].source_ts = ")
    assert expected in detail.detail

    late_event = batch(agent, plant, events=[event(Seqs(), None, ts)])
    detail = refusal(await target.ingest(late_event, token), 422, "implausible_timestamp")
    assert detail.location == ["events", 0, "ts"]
    assert nothing_stored(target.counts(agent))


async def test_non_finite_values_and_nul_text_are_422(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    doc = _batch_json(agent, plant)
    raw = json.dumps(doc).replace('"value": 2.0', '"value": NaN')
    detail = refusal(await target.ingest(gzip.compress(raw.encode()), token), 422, "schema")
    assert detail.location == ["readings", 2, "value"]

    doc = _batch_json(agent, plant)
    doc["readings"][4]["reason"] = "bad\x00byte"  # type: ignore[index]
    detail = refusal(await target.ingest(_gz(doc), token), 422, "schema")
    assert detail.location == ["readings", 4, "reason"]
    assert nothing_stored(target.counts(agent))


async def test_a_seq_used_twice_in_one_batch_is_422(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    seqs = Seqs()
    readings = _valid_readings(plant, seqs, 3)
    ev = event(Seqs(next=2), None, at(10))
    detail = refusal(
        await target.ingest(batch(agent, plant, readings=readings, events=[ev]), token),  # type: ignore[arg-type]
        422,
        "repeated_seq",
    )
    assert detail.location == ["events", 0, "seq"]
    assert "readings[1].seq" in detail.detail
    assert nothing_stored(target.counts(agent))


async def test_oversized_bodies_and_zip_bombs_are_413(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    import os

    noise = os.urandom(LIMITS["max_body_bytes"] + 1)  # incompressible: over the wire limit
    refusal(await target.ingest(noise, token), 413, "body_too_large")

    bomb = gzip.compress(b" " * (LIMITS["max_inflated_bytes"] * 20))  # ~20 kB on the wire
    assert len(bomb) < LIMITS["max_body_bytes"]
    detail = refusal(await target.ingest(bomb, token), 413, "inflated_too_large")
    assert str(LIMITS["max_inflated_bytes"]) in detail.detail

    seqs = Seqs()
    many = batch(agent, plant, readings=_valid_readings(plant, seqs, 51))  # type: ignore[arg-type]
    detail = refusal(await target.ingest(many, token), 413, "too_many_records")
    assert "51 records" in detail.detail

    refusal(await target.ingest(b"\x1f\x8b\x08\x00garbage", token), 400, "bad_gzip")
    whole = encode(batch(agent, plant, readings=_valid_readings(plant, Seqs(), 5)))  # type: ignore[arg-type]
    detail = refusal(await target.ingest(whole[: len(whole) // 2], token), 400, "bad_gzip")
    assert "truncated" in detail.detail
    assert nothing_stored(target.counts(agent))


async def test_a_failure_inside_the_transaction_stores_nothing(target: Target) -> None:
    """A real database error half-way through a batch (a trigger refusing one gap row, after
    the readings and events went in) rolls back the whole batch."""
    url = target.database_url
    if url.startswith("sqlite"):
        sql(
            url,
            "CREATE TRIGGER IF NOT EXISTS inject_failure BEFORE INSERT ON gap "
            "WHEN NEW.reason = 'inject-failure' BEGIN SELECT RAISE(ABORT, 'injected'); END",
        )
    else:
        sql(
            url,
            "CREATE OR REPLACE FUNCTION inject_failure() RETURNS trigger AS $$ BEGIN "
            "IF NEW.reason = 'inject-failure' THEN RAISE EXCEPTION 'injected'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
        )
        sql(url, "DROP TRIGGER IF EXISTS inject_failure ON gap")
        sql(
            url,
            "CREATE TRIGGER inject_failure BEFORE INSERT ON gap "
            "FOR EACH ROW EXECUTE FUNCTION inject_failure()",
        )
    plant, agent, token = await target.new_agent()
    seqs = Seqs()
    b = batch(
        agent,
        plant,
        readings=_valid_readings(plant, seqs, 10),  # type: ignore[arg-type]
        events=[event(seqs, None, at(20))],
        gaps=[gap(seqs, None, at(0), at(5), "inject-failure")],
    )
    r = await target.ingest(b, token)
    assert r.status_code == 500, r.text
    assert ErrorDetail.model_validate_json(r.content).error == "store_failed"
    assert nothing_stored(target.counts(agent))

    fixed = batch(
        agent,
        plant,
        readings=b.readings,
        events=b.events,
        gaps=[gap(Seqs(next=12), None, at(0), at(5), "thinned")],
    )
    r = await target.ingest(fixed, token)
    assert r.status_code == 200, r.text
    counts = target.counts(agent)
    assert (counts["reading"], counts["event"], counts["gap"]) == (10, 1, 1)


async def test_a_scoped_viewer_sees_only_its_plant(target: Target) -> None:
    mine, agent_m, token_m = await target.new_agent(region="r-mine")
    theirs, agent_t, token_t = await target.new_agent(region="r-theirs")
    for plant, agent, token in ((mine, agent_m, token_m), (theirs, agent_t, token_t)):
        b = batch(agent, plant, readings=[reading(Seqs(), f"{plant}/d/p", 1.0, at(0))])
        assert (await target.ingest(b, token)).status_code == 200
    viewer = await target.new_user(scope=f"plant:{mine}")

    plants = (await target.get("/api/v1/plants", viewer)).json()["plants"]
    assert [p["plant"] for p in plants] == [mine]
    refusal(await target.get(f"/api/v1/plants/{theirs}/latest", viewer), 404, "not_found")
    refusal(await target.get("/api/v1/events", viewer, plant=theirs), 404, "not_found")
    refusal(await target.get(f"/api/v1/points/{theirs}/d/p/readings", viewer), 404, "not_found")
    ok = await target.get(f"/api/v1/points/{mine}/d/p/readings", viewer, start=at(-1).isoformat())
    assert ok.status_code == 200
    regions = (await target.get("/api/v1/org", viewer)).json()["regions"]
    assert [(r["region"], [p["plant"] for p in r["plants"]]) for r in regions] == [
        ("r-mine", [mine])
    ]


async def test_user_tokens_expire_and_can_be_revoked(target: Target) -> None:
    token = await target.new_user()
    assert (await target.get("/api/v1/users/me", token)).status_code == 200
    sql(
        target.database_url,
        "UPDATE user_token SET expires_ts = 0 WHERE token_hash = :h",
        h=hash_token(token),
    )
    refusal(await target.get("/api/v1/users/me", token), 401, "unauthenticated")

    token = await target.new_user()
    r = await target.client.delete("/api/v1/auth/token", headers=target.auth(token))
    assert r.status_code == 204
    refusal(await target.get("/api/v1/users/me", token), 401, "unauthenticated")


async def test_query_parameters_are_checked(target: Target) -> None:
    viewer = await target.new_user()
    detail = refusal(await target.get("/api/v1/plants", viewer, limit=10**9), 422, "invalid")
    assert "max_query_limit" in detail.detail
    detail = refusal(
        await target.get("/api/v1/events", viewer, start="2025-01-01T00:00:00"), 422, "invalid"
    )
    assert "timezone" in detail.detail
    detail = refusal(await target.get("/api/v1/events", viewer, cursor="x:y"), 422, "bad_cursor")
    detail = refusal(await target.get("/api/v1/events", viewer, category="gossip"), 422, "invalid")
    assert detail.location[:2] == ["query", "category"]


async def test_secrets_never_reach_the_log(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    wrong_password = "correct-horse-battery-staple"
    forged = "hse_agent_" + "Z" * 43
    with structlog.testing.capture_logs() as logs:
        r = await target.client.post(
            "/api/v1/auth/token", data={"username": "nobody-here", "password": wrong_password}
        )
        refusal(r, 401, "bad_credentials")
        user_token = await target.new_user()
        refusal(
            await target.ingest(batch(agent, plant), forged),
            401,
            "unauthenticated",
        )
        bad = batch(agent, "elsewhere", readings=[reading(Seqs(), "elsewhere/d/p", 1.0, at(0))])
        refusal(await target.ingest(bad, token), 403, "wrong_plant")
    text_of_logs = json.dumps(logs, default=str)
    assert logs, "the refusals were logged"
    for secret in (wrong_password, forged, token, user_token, VIEWER_PASSWORD, "nobody-here"):
        assert secret not in text_of_logs


async def test_metrics_count_batches_duplicates_and_refusals(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    b = batch(agent, plant, readings=_valid_readings(plant, Seqs(), 4))  # type: ignore[arg-type]
    assert (await target.ingest(b, token)).status_code == 200
    assert (await target.ingest(b, token)).status_code == 200
    await target.ingest(batch(agent, "elsewhere"), token)
    await target.ingest(b, "hse_agent_" + "Q" * 43)
    text_ = (await target.client.get("/metrics")).text
    assert 'hse_central_ingest_batches_total{lane="live"} 2.0' in text_
    assert 'hse_central_ingest_records_total{kind="reading"} 4.0' in text_
    assert "hse_central_ingest_duplicates_total 4.0" in text_
    assert 'hse_central_ingest_refusals_total{reason="wrong_plant"} 1.0' in text_
    assert 'hse_central_ingest_refusals_total{reason="unauthenticated"} 1.0' in text_
    assert 'route="/api/v1/ingest"' in text_
    health = await target.client.get("/healthz")
    assert health.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    from central import create_app, load_settings
    from tests.support.ports import free_port

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(load_settings(env={}, overrides={"database_url": dead}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://central.test") as c:
        r = await c.get("/healthz")
    app.state.central.engine.dispose()
    assert r.status_code == 503
    assert r.json()["database"] == "unreachable"


async def test_reads_answer_503_when_the_database_goes_away() -> None:
    from central import create_app, load_settings
    from tests.support.ports import free_port

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(load_settings(env={}, overrides={"database_url": dead}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://central.test") as c:
        r = await c.get("/api/v1/plants", headers={"Authorization": "Bearer hse_user_" + "x" * 43})
    app.state.central.engine.dispose()
    detail = refusal(r, 503, "store_unavailable")
    assert "try again" in detail.detail
    assert r.headers["Retry-After"] == "5"
