"""Central's ingest and queries end to end, through HTTP: in process (``httpx.ASGITransport``)
and through a real uvicorn process, each on SQLite and on PostgreSQL.

Tests share a database per module but never an agent or plant, and count rows per agent.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from protocols.sync import AgentHealth, BatchAck, DeviceHealth, Reading
from protocols.types import Quality
from tests.support.central import (
    Seqs,
    ServerProcess,
    Target,
    aggregate,
    asgi_target,
    at,
    batch,
    command_result,
    event,
    gap,
    point_info,
    reading,
    recent,
    running_server,
    server_target,
)


@pytest.fixture(scope="module")
def central_server(
    database_url: str, admin_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with running_server(database_url, Path(tmp_path_factory.mktemp("server"))) as server:
        yield server


@pytest.fixture(params=["asgi", "server"])
async def target(
    request: pytest.FixtureRequest, database_url: str, admin_name: str
) -> AsyncIterator[Target]:
    if request.param == "asgi":
        async with asgi_target(database_url, admin_name) as t:
            yield t
    else:
        server = request.getfixturevalue("central_server")
        async with server_target(server, database_url, admin_name) as t:
            yield t


def ack_of(response) -> BatchAck:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return BatchAck.model_validate_json(response.content)


async def test_batch_is_stored_and_acknowledged(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    points = [f"{plant}/gd-1/h2s", f"{plant}/gd-2/h2s"]
    seqs = Seqs()
    sent = [reading(seqs, points[i % 2], float(i), at(i)) for i in range(10)]
    b = batch(agent, plant, readings=sent, points=[point_info(p, area="north") for p in points])

    ack = ack_of(await target.ingest(b, token))

    assert ack.batch_id == b.batch_id
    assert ack.accepted == [(1, 10)]
    assert ack.duplicates == 0
    assert abs((ack.server_time - datetime.now(UTC)).total_seconds()) < 60
    counts = target.counts(agent)
    assert counts["reading"] == 10
    assert counts["seq_ledger"] == 10
    assert counts["latest_reading"] == 2
    assert counts["ingest_batch"] == 1

    viewer = await target.new_user()
    r = await target.get(
        f"/api/v1/points/{points[0]}/readings",
        viewer,
        start=at(-1).isoformat(),
        end=at(100).isoformat(),
    )
    assert r.status_code == 200, r.text
    got = r.json()["readings"]
    assert [x["value"] for x in got] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert [x["ts"] for x in got] == [
        at(i).isoformat().replace("+00:00", "Z") for i in (0, 2, 4, 6, 8)
    ]
    assert {x["quality"] for x in got} == {"good"}


async def test_same_batch_twice_is_stored_once_and_acked_twice(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    seqs = Seqs(next=41)
    sent = [reading(seqs, f"{plant}/gd-1/h2s", float(i), at(i)) for i in range(25)]
    b = batch(agent, plant, readings=sent)

    first = ack_of(await target.ingest(b, token))
    after_first = target.counts(agent)
    second = ack_of(await target.ingest(b, token))
    after_second = target.counts(agent)

    assert first.accepted == second.accepted == [(41, 65)]
    assert first.duplicates == 0
    assert second.duplicates == 25
    assert after_first["reading"] == after_second["reading"] == 25
    assert after_first["seq_ledger"] == after_second["seq_ledger"] == 25
    assert after_second["ingest_batch"] == 2  # the retry's receipt is recorded, not its rows


async def test_record_types_share_one_seq_space(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    point = f"{plant}/gd-1/h2s"
    seqs = Seqs()
    readings = [reading(seqs, point, 1.0, at(i)) for i in range(3)]  # 1..3
    events = [event(seqs, point, at(3))]  # 4
    gaps = [gap(seqs, point, at(4), at(5), "outbox.thinned")]  # 5
    aggregates = [aggregate(seqs, point, at(6), at(7))]  # 6
    results = [command_result(seqs, "no-such-command")]  # 7
    b = batch(
        agent,
        plant,
        readings=readings,
        events=events,
        gaps=gaps,
        aggregates=aggregates,
        command_results=results,
    )

    ack = ack_of(await target.ingest(b, token))
    assert ack.accepted == [(1, 7)]
    assert ack.duplicates == 0
    counts = target.counts(agent)
    assert counts["seq_ledger"] == 7
    assert (counts["reading"], counts["event"], counts["gap"]) == (3, 1, 1)
    assert (counts["reading_aggregate"], counts["command_result"]) == (1, 1)

    again = ack_of(await target.ingest(b, token))
    assert again.accepted == [(1, 7)]
    assert again.duplicates == 7

    # Seq 4 is the event's: a reading claiming it is the same record as far as central knows.
    reuse = Reading.model_validate({**readings[0].model_dump(), "seq": 4, "source_ts": at(50)})
    fresh = reading(Seqs(next=8), point, 2.0, at(51))
    third = ack_of(await target.ingest(batch(agent, plant, readings=[reuse, fresh]), token))
    assert third.accepted == [(4, 4), (8, 8)]
    assert third.duplicates == 1
    assert target.counts(agent)["reading"] == 4


async def test_latest_value_is_not_overwritten_by_older_backlog(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    point = f"{plant}/gd-1/h2s"
    seqs = Seqs()
    live = batch(agent, plant, readings=[reading(seqs, point, 7.0, at(100))], batch_id="live-1")
    ack_of(await target.ingest(live, token))
    backlog = batch(
        agent,
        plant,
        lane="backlog",
        batch_id="backlog-1",
        readings=[reading(seqs, point, float(v), at(10 * v)) for v in range(1, 6)],
    )
    ack_of(await target.ingest(backlog, token))
    viewer = await target.new_user()

    async def latest() -> dict[str, object]:
        r = await target.get(f"/api/v1/plants/{plant}/latest", viewer)
        assert r.status_code == 200, r.text
        (only,) = r.json()["points"]
        return dict(only)

    now = await latest()
    assert now["value"] == 7.0
    assert now["source_ts"] == at(100).isoformat().replace("+00:00", "Z")

    newer = batch(agent, plant, readings=[reading(seqs, point, 9.0, at(200))], batch_id="live-2")
    ack_of(await target.ingest(newer, token))
    assert (await latest())["value"] == 9.0
    assert target.counts(agent)["reading"] == 7


async def test_bucket_aggregates_equal_the_raw_values(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    point = f"{plant}/gd-1/h2s"
    seqs = Seqs()
    # Irregular times over 3 minutes and into the next hour, one bad read without a value.
    offsets = [0, 7, 33, 59.5, 60, 61, 95, 119.999, 125, 3600 + 5, 3600 + 70]
    values: list[float | None] = [1.5, 4.0, -2.0, 8.25, 3.0, None, 5.5, 6.0, 0.125, 2.0, 10.0]
    sent = [
        reading(seqs, point, v, at(o), quality="good" if v is not None else "bad")
        for o, v in zip(offsets, values, strict=True)
    ]
    ack_of(await target.ingest(batch(agent, plant, readings=sent), token))
    viewer = await target.new_user()

    def expected(width_s: int) -> list[dict[str, object]]:
        groups: dict[datetime, list[float | None]] = {}
        for o, v in zip(offsets, values, strict=True):
            ts = at(o)
            epoch_s = int(ts.timestamp())
            start = datetime.fromtimestamp(epoch_s - epoch_s % width_s, UTC)
            groups.setdefault(start, []).append(v)
        out = []
        for start in sorted(groups):
            vals = [v for v in groups[start] if v is not None]
            out.append(
                {
                    "start": start.isoformat().replace("+00:00", "Z"),
                    "min": min(vals) if vals else None,
                    "max": max(vals) if vals else None,
                    "avg": sum(vals) / len(vals) if vals else None,
                    "count": len(vals),
                    "samples": len(groups[start]),
                }
            )
        return out

    for bucket, width in (("1m", 60), ("1h", 3600), ("1d", 86400)):
        r = await target.get(
            f"/api/v1/points/{point}/readings",
            viewer,
            start=at(-3600).isoformat(),
            end=at(7200).isoformat(),
            bucket=bucket,
        )
        assert r.status_code == 200, r.text
        got = r.json()["buckets"]
        want = expected(width)
        assert [g["start"] for g in got] == [w["start"] for w in want], bucket
        for g, w in zip(got, want, strict=True):
            assert (g["min"], g["max"], g["count"], g["samples"]) == (
                w["min"],
                w["max"],
                w["count"],
                w["samples"],
            ), bucket
            assert math.isclose(g["avg"], w["avg"], rel_tol=1e-12), bucket  # type: ignore[arg-type]

    raw = await target.get(
        f"/api/v1/points/{point}/readings",
        viewer,
        start=at(-1).isoformat(),
        end=at(7200).isoformat(),
        limit=4,
    )
    page = raw.json()
    assert [x["value"] for x in page["readings"]] == values[:4]
    rest = await target.get(
        f"/api/v1/points/{point}/readings",
        viewer,
        start=at(-1).isoformat(),
        end=at(7200).isoformat(),
        cursor=page["next_cursor"],
        limit=100,
    )
    assert [x["value"] for x in rest.json()["readings"]] == values[4:]
    assert rest.json()["next_cursor"] is None


async def test_buckets_hold_the_readings_the_agent_thinned(target: Target) -> None:
    """Raw 2.0 and 4.0 at 12:00:00/10, a bad read at 12:02:10; thinned minutes: 30 readings at
    12:01 (1..9, mean 5), 10 at 12:02 (0.5..3, mean 2), 5 bad ones at 13:00 (no value).
    1h at 12:00: min 0.5, max 9, sum 2 + 4 + 30 x 5 + 10 x 2 = 176 over 42 values, 43 samples,
    40 of them thinned."""
    plant, agent, token = await target.new_agent()
    point = f"{plant}/gd-1/h2s"
    seqs = Seqs()
    raw = [reading(seqs, point, 2.0, at(0)), reading(seqs, point, 4.0, at(10)),
           reading(seqs, point, None, at(130), quality="bad")]  # fmt: skip
    minute = aggregate(seqs, point, at(60), at(119))
    thinned = [
        minute.model_copy(update={"count": 30, "min": 1.0, "max": 9.0, "mean": 5.0}),
        minute.model_copy(update={"seq": seqs.take(), "from_ts": at(125), "to_ts": at(179),
                                  "count": 10, "min": 0.5, "max": 3.0, "mean": 2.0}),
        minute.model_copy(update={"seq": seqs.take(), "from_ts": at(3600), "to_ts": at(3659),
                                  "count": 5, "min": None, "max": None, "mean": None,
                                  "quality": Quality.BAD}),
    ]  # fmt: skip
    ack_of(await target.ingest(batch(agent, plant, readings=raw, aggregates=thinned), token))
    viewer = await target.new_user()

    async def buckets(bucket: str, **extra: object) -> dict[str, object]:
        r = await target.get(f"/api/v1/points/{point}/readings", viewer, start=at(0).isoformat(),
                             end=at(7200).isoformat(), bucket=bucket, **extra)  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def row(b: dict[str, object]) -> tuple[object, ...]:
        return (b["start"][11:16], b["min"], b["max"], b["avg"], b["count"], b["samples"],  # type: ignore[index]
                b["thinned"])  # fmt: skip

    minutes = [row(b) for b in (await buckets("1m"))["buckets"]]  # type: ignore[attr-defined]
    assert minutes == [
        ("12:00", 2.0, 4.0, 3.0, 2, 2, 0),
        ("12:01", 1.0, 9.0, 5.0, 30, 30, 30),
        ("12:02", 0.5, 3.0, 2.0, 10, 11, 10),
        ("13:00", None, None, None, 0, 5, 5),
    ]
    hours = [row(b) for b in (await buckets("1h"))["buckets"]]  # type: ignore[attr-defined]
    assert hours[0][:3] == ("12:00", 0.5, 9.0)
    assert hours[0][3] == pytest.approx(176 / 42)
    assert hours[0][4:] == (42, 43, 40)
    assert hours[1] == ("13:00", None, None, None, 0, 5, 5)
    first = await buckets("1m", limit=3)
    rest = await buckets("1m", limit=3, cursor=first["next_cursor"])
    assert [row(b) for b in first["buckets"] + rest["buckets"]] == minutes  # type: ignore[operator]
    assert rest["next_cursor"] is None
    # The raw series holds the raw readings only.
    plain = await target.get(f"/api/v1/points/{point}/readings", viewer, start=at(0).isoformat(),
                             end=at(7200).isoformat())  # fmt: skip
    assert [x["value"] for x in plain.json()["readings"]] == [2.0, 4.0, None]


async def test_events_and_gaps_filter(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    other_plant, other_agent, other_token = await target.new_agent()
    p1, p2 = f"{plant}/gd-1/h2s", f"{plant}/gd-2/lel"
    seqs = Seqs()
    events = [
        event(seqs, p1, at(10), kind="limit.hh", category="alarm"),
        event(seqs, p2, at(20), kind="fault.flatline", category="fault"),
        event(seqs, p1, at(30), kind="limit.h", category="alarm", transition="clear"),
        event(seqs, None, at(40), kind="system.outbox_reset", category="system"),
    ]
    gaps = [
        gap(seqs, p1, at(0), at(100), "outbox.thinned"),
        gap(seqs, None, at(200), at(300), "device.unreachable"),
    ]
    ack_of(await target.ingest(batch(agent, plant, events=events, gaps=gaps), token))
    foreign = [event(Seqs(), f"{other_plant}/gd-1/h2s", at(15))]
    ack_of(await target.ingest(batch(other_agent, other_plant, events=foreign), other_token))
    viewer = await target.new_user()

    async def kinds(**params: object) -> list[str]:
        r = await target.get("/api/v1/events", viewer, **params)
        assert r.status_code == 200, r.text
        return [e["kind"] for e in r.json()["events"]]

    assert await kinds(plant=plant) == [
        "system.outbox_reset",
        "limit.h",
        "fault.flatline",
        "limit.hh",
    ]
    assert await kinds(plant=plant, point=p1) == ["limit.h", "limit.hh"]
    assert await kinds(plant=plant, category="fault") == ["fault.flatline"]
    assert await kinds(plant=plant, kind="limit.hh") == ["limit.hh"]
    assert await kinds(plant=plant, start=at(15).isoformat(), end=at(35).isoformat()) == [
        "limit.h",
        "fault.flatline",
    ]
    assert await kinds(plant=other_plant) == ["limit.hh"]
    first = await target.get("/api/v1/events", viewer, plant=plant, limit=3)
    assert len(first.json()["events"]) == 3
    rest = await target.get(
        "/api/v1/events", viewer, plant=plant, limit=3, cursor=first.json()["next_cursor"]
    )
    assert [e["kind"] for e in rest.json()["events"]] == ["limit.hh"]

    r = await target.get("/api/v1/gaps", viewer, plant=plant)
    assert [g["reason"] for g in r.json()["gaps"]] == ["device.unreachable", "outbox.thinned"]
    r = await target.get("/api/v1/gaps", viewer, plant=plant, point=p1)
    assert [g["reason"] for g in r.json()["gaps"]] == ["outbox.thinned"]
    r = await target.get("/api/v1/gaps", viewer, plant=plant, start=at(150).isoformat())
    assert [g["reason"] for g in r.json()["gaps"]] == ["device.unreachable"]
    r = await target.get("/api/v1/gaps", viewer, plant=other_plant)
    assert r.json()["gaps"] == []


async def test_commands_ride_acks_until_their_result_arrives(target: Target) -> None:
    plant, agent, token = await target.new_agent()
    admin = await target.admin_token()
    r = await target.client.post(
        f"/api/v1/agents/{agent}/commands",
        json={"kind": "alarm.ack", "payload": {"event_id": "ev-1"}},
        headers=target.auth(admin),
    )
    assert r.status_code == 201, r.text
    command_id = r.json()["id"]
    seqs = Seqs()

    def heartbeat(n: int, **records: list[object]) -> object:
        return batch(agent, plant, batch_id=f"hb-{n}", health=AgentHealth(ts=recent()), **records)

    first = ack_of(await target.ingest(heartbeat(1), token))  # type: ignore[arg-type]
    assert [c.id for c in first.commands] == [command_id]
    assert first.commands[0].kind == "alarm.ack"
    assert first.commands[0].payload == {"event_id": "ev-1"}
    second = ack_of(await target.ingest(heartbeat(2), token))  # type: ignore[arg-type]
    assert [c.id for c in second.commands] == [command_id]

    done = ack_of(
        await target.ingest(heartbeat(3, command_results=[command_result(seqs, command_id)]), token)  # type: ignore[arg-type]
    )
    assert done.commands == []
    assert done.accepted == [(1, 1)]
    listed = await target.get(f"/api/v1/agents/{agent}/commands", admin)
    (cmd,) = listed.json()
    assert cmd["status"] == "done"
    assert cmd["result_ok"] is True
    assert cmd["delivered_count"] == 2
    after = ack_of(await target.ingest(heartbeat(4), token))  # type: ignore[arg-type]
    assert after.commands == []


async def test_plant_status_shows_how_far_behind_and_how_full(target: Target) -> None:
    plant, agent, token = await target.new_agent(region="north-sea")
    health = AgentHealth(
        ts=recent(),
        version="0.1.0",
        devices=[
            DeviceHealth(device="gd-1", connected=True),
            DeviceHealth(device="gd-2", connected=False, last_error="timeout"),
        ],
        backlog_records=5000,
        oldest_unsent_ts=datetime.now(UTC) - timedelta(hours=6),
        outbox_bytes=80_000_000,
        quota_bytes=100_000_000,
    )
    ack_of(await target.ingest(batch(agent, plant, health=health), token))
    viewer = await target.new_user()
    r = await target.get("/api/v1/plants", viewer, region="north-sea")
    assert r.status_code == 200, r.text
    (status,) = [p for p in r.json()["plants"] if p["plant"] == plant]
    assert status["region"] == "north-sea"
    assert status["status"] == "full"
    assert status["outbox_fill"] == 0.8
    assert abs(status["behind_s"] - 6 * 3600) < 300
    assert status["devices_down"] == 1
    (a,) = status["agents"]
    assert a["agent_id"] == agent
    assert a["online"] is True
    assert a["backlog_records"] == 5000
    assert a["devices_down"] == ["gd-2"]

    r = await target.get("/api/v1/org", viewer)
    regions = {reg["region"]: reg for reg in r.json()["regions"]}
    assert plant in [p["plant"] for p in regions["north-sea"]["plants"]]


async def test_concurrent_copies_of_one_batch_are_stored_once(target: Target) -> None:
    import asyncio

    plant, agent, token = await target.new_agent()
    seqs = Seqs()
    b = batch(
        agent,
        plant,
        readings=[reading(seqs, f"{plant}/gd-{i % 3}/h2s", float(i), at(i)) for i in range(300)],
    )
    acks = [ack_of(r) for r in await asyncio.gather(*(target.ingest(b, token) for _ in range(6)))]
    assert {tuple(a.accepted) for a in acks} == {((1, 300),)}
    assert sorted(a.duplicates for a in acks) == [0] + [300] * 5
    counts = target.counts(agent)
    assert counts["reading"] == counts["seq_ledger"] == 300
    assert counts["latest_reading"] == 3


async def test_points_register_from_metadata_and_latest_filters_by_area_and_quantity(
    target: Target,
) -> None:
    plant, agent, token = await target.new_agent()
    north_h2s, north_lel, south_h2s = (
        f"{plant}/gd-1/h2s",
        f"{plant}/gd-1/lel",
        f"{plant}/gd-2/h2s",
    )
    infos = [
        point_info(north_h2s, area="north"),
        point_info(north_lel, area="north", quantity="gas.lel"),
        point_info(south_h2s, area="south"),
    ]
    seqs = Seqs()
    readings = [
        reading(seqs, north_h2s, 1.0, at(0)),
        reading(seqs, north_lel, 12.0, at(0), quantity="gas.lel", unit="%LEL"),
        reading(seqs, south_h2s, 3.0, at(0)),
        reading(seqs, f"{plant}/gd-3/o2", 20.9, at(0), quantity="gas.o2", unit="%vol"),
    ]
    ack_of(await target.ingest(batch(agent, plant, points=infos, readings=readings), token))
    viewer = await target.new_user()

    async def latest(**params: object) -> list[tuple[str, float]]:
        r = await target.get(f"/api/v1/plants/{plant}/latest", viewer, **params)
        assert r.status_code == 200, r.text
        return [(p["point"], p["value"]) for p in r.json()["points"]]

    assert len(await latest()) == 4
    assert await latest(area="north") == [(north_h2s, 1.0), (north_lel, 12.0)]
    assert await latest(quantity="gas.h2s") == [(north_h2s, 1.0), (south_h2s, 3.0)]
    assert await latest(area="north", quantity="gas.lel") == [(north_lel, 12.0)]

    r = await target.get("/api/v1/points", viewer, plant=plant, limit=2)
    page = r.json()
    assert len(page["points"]) == 2
    rest = await target.get("/api/v1/points", viewer, plant=plant, cursor=page["next_cursor"])
    points = {p["point"]: p for p in page["points"] + rest.json()["points"]}
    assert points[north_lel]["area"] == "north"
    assert points[north_lel]["limits"] == {"h": 10.0, "hh": 15.0}
    assert points[north_lel]["registered"] is True
    unregistered = points[f"{plant}/gd-3/o2"]
    assert unregistered["registered"] is False  # known only from its readings
    assert (unregistered["quantity"], unregistered["unit"]) == ("gas.o2", "%vol")

    org = (await target.get("/api/v1/org", viewer)).json()
    (node,) = [p for r_ in org["regions"] for p in r_["plants"] if p["plant"] == plant]
    assert node["devices"] == 3
    assert node["points"] == 4
    assert [(a["area"], a["points"]) for a in node["areas"]] == [("north", 2), ("south", 1)]


async def test_ingest_statistics_report_what_the_service_holds(target: Target) -> None:
    if target.kind != "asgi":
        pytest.skip("statistics() is an in-process API")
    plant, agent, token = await target.new_agent()
    seqs = Seqs()
    b = batch(
        agent, plant, readings=[reading(seqs, f"{plant}/d/{i}", 1.0, at(i)) for i in range(3)]
    )
    ack_of(await target.ingest(b, token))
    service = target.app.state.central.ingest
    stats = service.statistics()
    assert stats.in_progress == 0
    assert stats.waiting == 0
    assert stats.cached_agents == 1
    assert stats.known_points == 3
