"""Fleet KPIs and the plant overview against values computed by hand on a small fixture.

Period: one hour, 2025-06-01 00:00-01:00 UTC, so six 10-minute slots. Plants A and B are in
region r1, C in r2. Times below are seconds after 00:00.

Plant A (points p1, p2 on device d1; p3 on device d2, calibration due 2025-05-01):
  alarm a1 = p1 limit.h:  raise 0, 20, 40; ack 30 (-> the raise at 20), ack 100 (-> 40)
  alarm a2 = p2 limit.hh: raise 100, 150, ..., 500 (9 raises, 50 s apart); ack 110, ack 1500
  e1 = p1 exposure.stel:  raise 1900, ack 2000
  s1 = p3 limit.h:        raise 2 days before 00:00, never cleared          -> stale
  s2 = p3 limit.hh:       raise 2 days before, clear 1 day before           -> not stale
  f1 = p3 fault.flatline: raise 10
  readings: p1 every 60 s (60), 6 of them bad; p2 every 40 s (90) all good; p3 none.
  p1 and p3 say poll_interval_s = 60; p2 says nothing (the setting: 30 s).

  raised in the period = 3 (a1) + 9 (a2) + 1 (e1) = 13; slot 0 holds 12 -> flood; slot 3 holds 1
  alarms_per_10min_avg = 13 / 6 = 2.166667; peak 12; flood_periods_pct = 1/6 = 16.6667 %
  chattering = 1 (a1: 3 raises within 40 s; a2's third raise is 100 s after its first)
  stale = 1 (s1); exposure_exceedances = 1 (e1)
  time to ack: a1 raise 0 never acked; 20 -> 10 s; 40 -> 60 s; a2 100 -> 10 s, 150..450 never,
  500 -> 1000 s; e1 -> 100 s. All 13 raises are >= 600 s before the end: judged = 13;
  within 600 s: 10, 60, 10, 100 -> 4 / 13 = 30.7692 %; mean of acked = (10+60+10+1000+100)/5
  = 236 s; p90 by nearest rank = the 5th of 5 sorted = 1000 s.
  completeness: d1 expects 3600/60 + 3600/30 = 180, got 60 + 90 = 150 -> 83.3333 %;
  d2 expects 60, got 0 -> 0 %; plant 150 / 240 = 62.5 %; availability 144 / 150 = 96 %;
  calibration overdue: d2 -> 1.
  A safety PLC (plc-1) whose fan_run output the agent wrote (0 at 1000 s, 1 at 1900 s, a failed
  write of 0 at 2500 s): registered as not measured, it counts in no figure above (no expected
  readings), only as a device; the plant view shows its last written value, 1.
Plant B: raise 600 (acked 900: 300 s), raise 3300 (not acked, 300 s before the end: not
  judged) -> raised 2, avg 2/6 = 0.333333, judged 1, 100 %, mean 300 s, p90 300 s.
Plant C: nothing -> avg 0, no judged raises (None).
Region r1 pools A and B: raised 15 over 12 plant-slots = 1.25; flood 1/12 = 8.3333 %;
  judged 14, in time 5 -> 35.7143 %; acked ttas 10, 10, 60, 100, 300, 1000 -> mean 246.667 s,
  p90 = the 6th of 6 = 1000 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from protocols.sync import AlarmEvent, PointInfo, Reading
from tests.support.central import (
    Seqs,
    SetClock,
    Target,
    asgi_target,
    batch,
    create_admin,
    unique,
)

T = datetime(2025, 6, 1, tzinfo=UTC)
END = T + timedelta(hours=1)


def at(s: float) -> datetime:
    return T + timedelta(seconds=s)


@pytest.fixture
async def target(database_url: str) -> AsyncIterator[Target]:
    admin = create_admin(database_url)[0]
    clock = SetClock(0)
    clock.set(END + timedelta(hours=1))
    async with asgi_target(database_url, admin, clock=clock, expected_poll_interval_s=30) as t:
        yield t


def ev(
    seqs: Seqs, point: str, kind: str, transition: str, s: float, category: str = "alarm"
) -> AlarmEvent:
    return AlarmEvent(
        seq=seqs.take(),
        event_id=f"e{seqs.next}",
        point=point,
        category=category,  # type: ignore[arg-type]
        kind=kind,
        transition=transition,
        priority="high",  # type: ignore[arg-type]
        ts=at(s),
    )


def info(point: str, poll_s: float | None, serial: str, due: datetime | None = None) -> PointInfo:
    _plant, device, name = point.split("/")
    return PointInfo(
        point=point,
        device=device,
        area="unit-1",
        name=name,
        quantity="gas.h2s",
        unit="ppm",
        profile="gd-h2s-mb",
        device_serial=serial,
        calibration_due=due,
        poll_interval_s=poll_s,
    )


def read(seqs: Seqs, point: str, s: float, value: float | None) -> Reading:
    return Reading(
        seq=seqs.take(),
        point=point,
        quantity="gas.h2s",
        unit="ppm",
        value=value,
        quality="good" if value is not None else "bad",  # type: ignore[arg-type]
        reason=None if value is not None else "ne43.fail_low",
        source_ts=at(s),
        received_ts=at(s + 1),
    )


async def seed(t: Target) -> tuple[str, str, str, str, str]:
    r1, r2 = unique("r1"), unique("r2")
    a, agent_a, tok_a = await t.new_agent(unique("a"), region=r1)
    b, agent_b, tok_b = await t.new_agent(unique("b"), region=r1)
    c, _agent_c, _tok_c = await t.new_agent(unique("c"), region=r2)
    s = Seqs()
    p1, p2, p3 = f"{a}/d1/p1", f"{a}/d1/p2", f"{a}/d2/p3"
    day = 86_400
    events = [
        *(ev(s, p1, "limit.h", "raise", x) for x in (0, 20, 40)),
        ev(s, p1, "limit.h", "ack", 30),
        ev(s, p1, "limit.h", "ack", 100),
        *(ev(s, p2, "limit.hh", "raise", 100 + 50 * i) for i in range(9)),
        ev(s, p2, "limit.hh", "ack", 110),
        ev(s, p2, "limit.hh", "ack", 1500),
        ev(s, p1, "exposure.stel", "raise", 1900, "exposure"),
        ev(s, p1, "exposure.stel", "ack", 2000, "exposure"),
        ev(s, p3, "limit.h", "raise", -2 * day),
        ev(s, p3, "limit.hh", "raise", -2 * day),
        ev(s, p3, "limit.hh", "clear", -day),
        ev(s, p3, "fault.flatline", "raise", 10, "fault"),
        *(
            ev(s, f"{a}/plc-1/fan_run", "interlock.output", how, x, "interlock").model_copy(
                update={"value": v}
            )
            for how, x, v in (
                ("write", 1000, 0.0),
                ("write", 1900, 1.0),
                ("write_failed", 2500, 0.0),
            )
        ),
    ]
    readings = [read(s, p1, 60 * i, None if i % 10 == 0 else 1.0) for i in range(60)]
    readings += [read(s, p2, 40 * i, 2.0) for i in range(90)]
    points = [
        info(p1, 60, "SN-1"),
        info(p2, None, "SN-1"),
        info(p3, 60, "SN-2", due=datetime(2025, 5, 1, tzinfo=UTC)),
        info(f"{a}/plc-1/fan_run", None, "PLC-1").model_copy(
            update={"quantity": "status", "unit": "1", "measured": False}
        ),
    ]
    r = await t.ingest(batch(agent_a, a, readings=readings, events=events, points=points), tok_a)
    assert r.status_code == 200, r.text
    s = Seqs()
    q = f"{b}/d1/q1"
    events = [
        ev(s, q, "limit.h", "raise", 600),
        ev(s, q, "limit.h", "ack", 900),
        ev(s, q, "limit.h", "raise", 3300),
    ]
    r = await t.ingest(batch(agent_b, b, events=events), tok_b)
    assert r.status_code == 200, r.text
    return a, b, c, r1, r2


async def overview(t: Target, **params: str) -> dict:  # type: ignore[type-arg]
    director = await t.new_user("hq_director")
    r = await t.get(
        "/api/v1/fleet/overview", director, start=T.isoformat(), end=END.isoformat(), **params
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_kpis_equal_the_hand_computed_values(target: Target) -> None:
    a, b, c, r1, r2 = await seed(target)
    body = await overview(target)
    plants = {p["plant"]: p for p in body["plants"]}
    assert (body["slot_s"], body["period_s"], body["ack_target_s"]) == (600, 3600.0, 600.0)

    ka = plants[a]["kpis"]
    assert ka["alarms_total"] == 13
    assert ka["alarms_per_10min_avg"] == pytest.approx(13 / 6, abs=1e-6)
    assert ka["alarms_per_10min_peak"] == 12
    assert ka["flood_periods_pct"] == pytest.approx(100 / 6, abs=1e-4)
    assert ka["chattering_alarms"] == 1
    assert ka["stale_alarms"] == 1
    assert ka["exposure_exceedances"] == 1
    assert ka["acks_judged"] == 13
    assert ka["ack_within_target_pct"] == pytest.approx(100 * 4 / 13, abs=1e-4)
    assert ka["tta_mean_s"] == pytest.approx(236.0)
    assert ka["tta_p90_s"] == pytest.approx(1000.0)
    assert (ka["readings"], ka["expected_readings"]) == (150, 240.0)
    assert ka["data_completeness_pct"] == pytest.approx(62.5)
    assert ka["sensor_availability_pct"] == pytest.approx(96.0)
    assert ka["calibration_overdue"] == 1
    devices = {d["device"]: d for d in plants[a]["devices"]}
    assert devices["d1"]["data_completeness_pct"] == pytest.approx(100 * 150 / 180, abs=1e-4)
    assert devices["d1"]["sensor_availability_pct"] == pytest.approx(96.0)
    assert (devices["d1"]["points"], devices["d1"]["calibration_overdue"]) == (2, False)
    assert (devices["d2"]["readings"], devices["d2"]["data_completeness_pct"]) == (0, 0.0)
    assert "plc-1" not in devices  # written, not polled: no readings expected
    assert devices["d2"]["sensor_availability_pct"] is None
    assert devices["d2"]["calibration_overdue"] is True
    live = plants[a]["live"]
    assert (live["points"], live["points_in_alarm"], live["points_in_fault"], live["devices"]) == (
        3,
        3,
        1,
        3,  # d1, d2 and the PLC
    )

    kb = plants[b]["kpis"]
    assert (kb["alarms_total"], kb["acks_judged"], kb["ack_within_target_pct"]) == (2, 1, 100.0)
    assert kb["alarms_per_10min_avg"] == pytest.approx(2 / 6, abs=1e-6)
    assert (kb["tta_mean_s"], kb["tta_p90_s"], kb["flood_periods_pct"]) == (300.0, 300.0, 0.0)
    kc = plants[c]["kpis"]
    assert (kc["alarms_total"], kc["alarms_per_10min_avg"], kc["acks_judged"]) == (0, 0.0, 0)
    assert kc["ack_within_target_pct"] is None
    assert kc["tta_mean_s"] is None

    regions = {r["region"]: r for r in body["regions"]}
    k1 = regions[r1]["kpis"]
    assert regions[r1]["plants"] == 2
    assert k1["alarms_total"] == 15
    assert k1["alarms_per_10min_avg"] == pytest.approx(15 / 12, abs=1e-6)
    assert k1["alarms_per_10min_peak"] == 12
    assert k1["flood_periods_pct"] == pytest.approx(100 / 12, abs=1e-4)
    assert (k1["acks_judged"], k1["ack_within_target_pct"]) == (
        14,
        pytest.approx(100 * 5 / 14, abs=1e-4),
    )
    assert k1["tta_mean_s"] == pytest.approx(1480 / 6, abs=1e-3)
    assert k1["tta_p90_s"] == pytest.approx(1000.0)
    assert regions[r1]["live"]["points"] == 3 + 1  # B's point is known from its events
    assert regions[r2]["kpis"]["alarms_total"] == 0
    targets = {x["kpi"]: x for x in body["targets"]}
    assert targets["flood_periods_pct"]["target"] == 1.0
    assert "§1.4" in targets["alarms_per_10min_avg"]["source"]


async def test_plants_are_ranked_by_the_chosen_kpi(target: Target) -> None:
    a, b, c, _r1, _r2 = await seed(target)
    ranking = (await overview(target, ranking="ack_within_target_pct"))["ranking"]
    mine = [e for e in ranking["plants"] if e["plant"] in {a, b, c}]
    assert ranking["better"] == "higher"
    assert [(e["plant"], e["value"]) for e in mine] == [
        (b, 100.0),
        (a, pytest.approx(100 * 4 / 13, abs=1e-4)),
        (c, None),
    ]
    ranking = (await overview(target, ranking="alarms_per_10min_avg"))["ranking"]
    order = [e["plant"] for e in ranking["plants"] if e["plant"] in {a, b, c}]
    assert ranking["better"] == "lower"
    assert order == [c, b, a]
    director = await target.new_user("hq_director")
    bad = await target.get("/api/v1/fleet/overview", director, ranking="happiness")
    assert bad.status_code == 422
    assert "ranking" in bad.json()["detail"]


async def test_a_regional_manager_sees_only_its_region(target: Target) -> None:
    a, b, _c, r1, _r2 = await seed(target)
    manager = await target.new_user("regional_manager", f"region:{r1}")
    r = await target.get(
        "/api/v1/fleet/overview", manager, start=T.isoformat(), end=END.isoformat()
    )
    assert sorted(p["plant"] for p in r.json()["plants"]) == sorted([a, b])
    assert [x["region"] for x in r.json()["regions"]] == [r1]
    auditor = await target.new_user("auditor")
    assert (await target.get("/api/v1/fleet/overview", auditor)).status_code == 403


async def test_plant_overview_shows_areas_points_and_active_alarms(target: Target) -> None:
    a, _b, _c, _r1, _r2 = await seed(target)
    operator = await target.new_user("operator", f"plant:{a}")
    r = await target.get(f"/api/v1/plants/{a}/overview", operator)
    assert r.status_code == 200, r.text
    body = r.json()
    (area,) = body["areas"]
    assert area["area"] == "unit-1"
    points = {p["point"]: p for p in area["points"]}
    p1, p2, p3 = f"{a}/d1/p1", f"{a}/d1/p2", f"{a}/d2/p3"
    assert (points[p1]["value"], points[p1]["quality"], points[p1]["unit"]) == (1.0, "good", "ppm")
    assert points[p1]["source_ts"] == "2025-06-01T00:59:00Z"
    assert points[p2]["value"] == 2.0
    assert points[p3]["value"] is None
    fan = points[f"{a}/plc-1/fan_run"]
    assert (fan["measured"], fan["value"], fan["source_ts"], fan["quality"]) == (
        False, 1.0, "2025-06-01T00:31:40Z", None,
    )  # fmt: skip
    assert points[p1]["measured"] is True
    # p3: s1 active_unacked and the fault; s2 cleared (an event without a state: normal).
    assert points[p3]["alarm_state"] == "active_unacked"
    assert points[p3]["alarms"] == sorted([f"{p3}:fault.flatline", f"{p3}:h"])
    assert points[p1]["alarm_state"] == "active_acked"
    active = [x["alarm_id"] for x in body["active_alarms"]]
    assert sorted(active) == sorted([f"{p1}:h", f"{p1}:stel", f"{p2}:hh", f"{p3}:h"])
    assert body["live"]["points_in_fault"] == 1
