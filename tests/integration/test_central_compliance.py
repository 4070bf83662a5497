"""The compliance ledger, its report and the what-if against hand-computed values; plant
extension fields. In process, on SQLite and PostgreSQL.

Plant L holds cn-gbz-2019 (molar volume 24.06 L/mol) in Asia/Shanghai (UTC+8, no DST):
  H2S ceiling (MAC) 10 mg/m³ = 10 x 24.06 / 34.08 = 7.05986 ppm, compared with the day's max;
  CO PC-TWA 20 mg/m³ = 20 x 24.06 / 28.01 = 17.17958 ppm, compared with the day's mean;
  CO's PC-STEL is listed as not evaluated (a rolling 15-min mean).
Local day 2025-06-01 is 2025-05-31T16:00Z .. 2025-06-01T16:00Z.
  h2s (device gd-1, serial SN-1, calibration due 2025-06-01T00:00Z):
    Jun 1: 2.0 @ 05-31 16:30Z, 8.0 @ 02:00Z, 9.0 @ 02:01Z, 1.0 @ 10:00Z -> mean 20/4 = 5.0,
           max 9.0 > 7.05986: 2 readings above, both after the due date -> "overdue"
    Jun 2: 3.0 @ 06-01 17:00Z, 4.0 @ 06-02 08:00Z, bad @ 09:00Z -> 3 samples, 2 values,
           mean 3.5, max 4.0: no breach
  co (device gd-2, no calibration date):
    Jun 1: 16.0, 20.0 -> mean 18.0 > 17.17958: a TWA breach (1), 1 reading above (20.0)
    Jun 2: 10.0, 12.0 -> mean 11.0
  -> exceedance_count = 2 + 1 = 3; not compliant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocols.sync import AlarmEvent, EventCategory, PointInfo, Reading, ReadingAggregate
from tests.support.central import (
    Seqs,
    SetClock,
    Target,
    asgi_target,
    batch,
    create_admin,
    unique,
)

TZ = "Asia/Shanghai"
START, END = "2025-06-01T00:00:00+08:00", "2025-06-03T00:00:00+08:00"
H2S_CEILING = 10 * 24.06 / 34.08
CO_TWA = 20 * 24.06 / 28.01


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def target(database_url: str) -> AsyncIterator[Target]:
    admin = create_admin(database_url)[0]
    clock = SetClock(0)
    clock.set(datetime(2025, 6, 10, 4, tzinfo=UTC))  # noon in Shanghai: office hours
    async with asgi_target(database_url, admin, clock=clock, timezone=TZ) as t:
        yield t


def info(point: str, quantity: str, serial: str, due: datetime | None) -> PointInfo:
    _p, device, name = point.split("/")
    return PointInfo(point=point, device=device, name=name, quantity=quantity, unit="ppm",
                     profile="test", device_serial=serial, calibration_due=due)  # fmt: skip


def read(seqs: Seqs, point: str, quantity: str, ts: str, value: float | None) -> Reading:
    when = z(ts)
    return Reading(
        seq=seqs.take(), point=point, quantity=quantity, unit="ppm", value=value,
        quality="good" if value is not None else "bad",  # type: ignore[arg-type]
        reason=None if value is not None else "ne43.fail_low",
        source_ts=when, received_ts=when + timedelta(seconds=1),
    )  # fmt: skip


async def plant_with(
    t: Target,
    *,
    region: str,
    limit_set: str | None,
    h2s: list[tuple[str, float | None]],
    co: list[tuple[str, float | None]] = (),  # type: ignore[assignment]
    more: Callable[[Seqs, str], dict[str, list[Any]]] | None = None,
) -> str:
    """A plant with the h2s, co and pressure points; ``more(seqs, plant)`` adds records."""
    admin = await t.admin_token()
    key = unique("plant")
    r = await t.client.post(
        "/api/v1/plants",
        json={"key": key, "region": region, "limit_set": limit_set, "timezone": TZ},
        headers=t.auth(admin),
    )
    assert r.status_code == 201, r.text
    _p, agent, token = await t.new_agent(key, region=region)
    s = Seqs()
    hp, cp = f"{key}/gd-1/h2s", f"{key}/gd-2/co"
    rows = [read(s, hp, "gas.h2s", ts, v) for ts, v in h2s]
    rows += [read(s, cp, "gas.co", ts, v) for ts, v in co]
    points = [
        info(hp, "gas.h2s", "SN-1", datetime(2025, 6, 1, tzinfo=UTC)),
        info(cp, "gas.co", "SN-2", None),
        info(f"{key}/gp-1/pressure", "pressure", "SN-3", None),
    ]
    extra = more(s, key) if more is not None else {}
    r = await t.ingest(batch(agent, key, readings=rows, points=points, **extra), token)
    assert r.status_code == 200, r.text
    return key


H2S_L = [
    ("2025-05-31T16:30:00Z", 2.0),
    ("2025-06-01T02:00:00Z", 8.0),
    ("2025-06-01T02:01:00Z", 9.0),
    ("2025-06-01T10:00:00Z", 1.0),
    ("2025-06-01T17:00:00Z", 3.0),
    ("2025-06-02T08:00:00Z", 4.0),
    ("2025-06-02T09:00:00Z", None),
]
CO_L = [
    ("2025-06-01T01:00:00Z", 16.0),
    ("2025-06-01T03:00:00Z", 20.0),
    ("2025-06-01T20:00:00Z", 10.0),
    ("2025-06-02T03:00:00Z", 12.0),
]


async def test_the_ledger_equals_the_hand_computed_values(target: Target) -> None:
    plant = await plant_with(target, region="south", limit_set="cn-gbz-2019", h2s=H2S_L, co=CO_L)
    officer = await target.new_user("plant_safety_officer", f"plant:{plant}")
    r = await target.get("/api/v1/compliance/ledger", officer, plant=plant, start=START, end=END)
    assert r.status_code == 200, r.text
    ledger = r.json()
    assert (ledger["start"], ledger["end"], ledger["days"]) == (
        "2025-05-31T16:00:00Z",
        "2025-06-02T16:00:00Z",
        2,
    )
    assert ledger["limit_set"]["id"] == "cn-gbz-2019"
    assert ledger["timezone"] == TZ
    assert (ledger["compliant"], ledger["exceedance_count"]) == (False, 3)
    points = {p["point"]: p for p in ledger["points"]}
    assert sorted(points) == [f"{plant}/gd-1/h2s", f"{plant}/gd-2/co"]  # pressure: no limit

    h2s = points[f"{plant}/gd-1/h2s"]
    (lim,) = h2s["limits"]
    assert (lim["kind"], lim["basis"], lim["native_value"], lim["native_unit"]) == (
        "ceiling",
        "daily_max",
        10.0,
        "mg/m³",
    )
    assert lim["value"] == pytest.approx(H2S_CEILING)
    d1, d2 = h2s["days"]
    assert (d1["date"], d1["samples"], d1["values"], d1["mean"], d1["max"]) == (
        "2025-06-01",
        4,
        4,
        5.0,
        9.0,
    )
    assert (d1["breaches"], d1["exceedances"]) == (["ceiling"], 2)
    assert (d2["date"], d2["samples"], d2["values"], d2["mean"], d2["max"]) == (
        "2025-06-02",
        3,
        2,
        3.5,
        4.0,
    )
    assert (d2["breaches"], d2["exceedances"]) == ([], 0)

    co = points[f"{plant}/gd-2/co"]
    (lim,) = co["limits"]
    assert (lim["kind"], lim["basis"]) == ("twa", "daily_mean")
    assert lim["value"] == pytest.approx(CO_TWA)
    c1, c2 = co["days"]
    assert (c1["mean"], c1["max"], c1["breaches"], c1["exceedances"]) == (18.0, 20.0, ["twa"], 1)
    assert (c2["mean"], c2["breaches"]) == (11.0, [])

    x_h2s, x_co = ledger["exceedances"]
    assert (x_h2s["point"], x_h2s["date"], x_h2s["kind"], x_h2s["observed"]) == (
        f"{plant}/gd-1/h2s",
        "2025-06-01",
        "ceiling",
        9.0,
    )
    assert (x_h2s["device_serial"], x_h2s["readings_over"], x_h2s["readings_truncated"]) == (
        "SN-1",
        2,
        False,
    )
    assert x_h2s["calibration_due"] == "2025-06-01T00:00:00Z"
    assert x_h2s["calibration_status"] == "overdue"
    assert [
        (e["ts"], e["value"], e["quality"], e["calibration_overdue"]) for e in x_h2s["readings"]
    ] == [
        ("2025-06-01T02:00:00Z", 8.0, "good", True),
        ("2025-06-01T02:01:00Z", 9.0, "good", True),
    ]
    assert (x_co["kind"], x_co["basis"], x_co["observed"], x_co["readings_over"]) == (
        "twa",
        "daily_mean",
        18.0,
        1,
    )
    assert x_co["calibration_status"] == "unknown"
    assert [e["value"] for e in x_co["readings"]] == [20.0]
    reasons = {(n["point"], n["quantity"]): n["reason"] for n in ledger["not_evaluated"]}
    assert "STEL" in reasons[(f"{plant}/gd-2/co", "gas.co")]


async def test_evidence_is_capped_but_counted(database_url: str) -> None:
    admin = create_admin(database_url)[0]
    async with asgi_target(database_url, admin, timezone=TZ, evidence_readings=1) as t:
        plant = await plant_with(t, region="south", limit_set="cn-gbz-2019", h2s=H2S_L)
        director = await t.new_user("hq_director")
        ledger = (
            await t.get("/api/v1/compliance/ledger", director, plant=plant, start=START, end=END)
        ).json()
    (x,) = ledger["exceedances"]
    assert (x["readings_over"], len(x["readings"]), x["readings_truncated"]) == (2, 1, True)
    assert x["readings"][0]["value"] == 8.0  # the first in time


async def test_the_report_as_csv_and_as_a_printable_page(target: Target) -> None:
    plant = await plant_with(target, region="south", limit_set="cn-gbz-2019", h2s=H2S_L, co=CO_L)
    auditor = await target.new_user("auditor")
    r = await target.get(
        "/api/v1/compliance/report", auditor, plant=plant, start=START, end=END, format="csv"
    )
    assert r.status_code == 200, r.text
    assert (
        r.headers["content-disposition"]
        == f'attachment; filename="compliance-{plant}-2025-05-31.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    days = [x for x in rows if x["record"] == "day"]
    evidence = [x for x in rows if x["record"] == "exceedance_reading"]
    assert len(days) == 4
    assert len(evidence) == 3
    first = next(x for x in days if x["point"].endswith("h2s") and x["date"] == "2025-06-01")
    assert (first["mean"], first["max"], first["breaches"], first["exceedances"]) == (
        "5",
        "9",
        "ceiling",
        "2",
    )
    assert first["ceiling_limit"] == f"{H2S_CEILING:.6g}"
    assert first["device_serial"] == "SN-1"
    assert [x["value"] for x in evidence] == ["8", "9", "20"]
    assert [x["calibration_overdue"] for x in evidence] == ["true", "true", ""]

    page = await target.get(
        "/api/v1/compliance/report", auditor, plant=plant, start=START, end=END, format="html"
    )
    html = page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "NOT compliant: 3 exceedance(s)" in html
    assert "China GBZ 2.1-2019" in html
    for external in ("<script", "src=", "href=", "http://", "https://", "@import"):
        assert external not in html, external
    auditor_name = (await target.get("/api/v1/me", auditor)).json()["username"]
    assert f"by user:{auditor_name}" in html
    operator = await target.new_user("operator", f"plant:{plant}")
    assert (await target.get("/api/v1/compliance/report", operator, plant=plant)).status_code == 403


def thinned(seqs: Seqs, point: str, minute: str, count: int, low: float, high: float,
            mean: float) -> ReadingAggregate:  # fmt: skip
    start = z(minute)
    return ReadingAggregate(
        seq=seqs.take(), point=point, quantity="gas.h2s", unit="ppm", from_ts=start,
        to_ts=start + timedelta(seconds=59), count=count, min=low, max=high, mean=mean,
        quality="good",  # type: ignore[arg-type]
    )  # fmt: skip


async def test_thinned_minutes_count_in_the_ledger_and_stand_as_evidence(target: Target) -> None:
    """h2s, local Jun 1 (UTC+8): a raw 2.0 @ 01:00Z; thinned minutes: 20 readings @ 03:00Z
    (1.0..12.0, mean 3.0) and 20 @ 03:01Z (0.5..1.5, mean 1.0). The day: 41 samples, sum
    2 + 20 x 3 + 20 x 1 = 82, mean 2.0, max 12.0 > 7.06 (ceiling): one thinned minute above it,
    no raw reading above it; it ends after the calibration due date (Jun 1 00:00Z): overdue."""

    def more(seqs: Seqs, plant: str) -> dict[str, list[Any]]:
        hp = f"{plant}/gd-1/h2s"
        return {"aggregates": [thinned(seqs, hp, "2025-06-01T03:00:00Z", 20, 1.0, 12.0, 3.0),
                               thinned(seqs, hp, "2025-06-01T03:01:00Z", 20, 0.5, 1.5, 1.0)]}  # fmt: skip

    plant = await plant_with(target, region="south", limit_set="cn-gbz-2019",
                             h2s=[("2025-06-01T01:00:00Z", 2.0)], more=more)  # fmt: skip
    auditor = await target.new_user("auditor")
    ledger = (
        await target.get("/api/v1/compliance/ledger", auditor, plant=plant, start=START, end=END)
    ).json()
    (h2s,) = [p for p in ledger["points"] if p["point"].endswith("h2s")]
    (day,) = h2s["days"]
    assert (day["date"], day["samples"], day["values"], day["mean"], day["max"]) == (
        "2025-06-01", 41, 41, 2.0, 12.0,
    )  # fmt: skip
    assert (day["breaches"], day["exceedances"]) == (["ceiling"], 1)
    assert (ledger["compliant"], ledger["exceedance_count"]) == (False, 1)
    (x,) = ledger["exceedances"]
    assert (x["observed"], x["readings_over"], x["readings"], x["thinned_over"]) == (12.0, 0, [], 1)
    (minute,) = x["thinned"]
    assert minute == {
        "from_ts": "2025-06-01T03:00:00Z", "to_ts": "2025-06-01T03:00:59Z", "count": 20,
        "min": 1.0, "max": 12.0, "mean": 3.0, "quality": "good", "calibration_overdue": True,
    }  # fmt: skip
    assert (x["thinned_truncated"], x["calibration_status"]) == (False, "overdue")

    r = await target.get("/api/v1/compliance/report", auditor, plant=plant, start=START,
                         end=END, format="csv")  # fmt: skip
    rows = [x for x in csv.DictReader(io.StringIO(r.text)) if x["record"] == "exceedance_thinned"]
    assert [(x["ts"], x["samples"], x["mean"], x["max"], x["calibration_overdue"]) for x in rows] == [
        ("2025-06-01T03:00:00Z", "20", "3", "12", "true")
    ]  # fmt: skip
    html = (await target.get("/api/v1/compliance/report", auditor, plant=plant, start=START,
                             end=END, format="html")).text  # fmt: skip
    assert "1 minute(s) the agent thinned" in html
    assert "2025-06-01T03:00:59Z" in html


def exposure_event(seqs: Seqs, point: str, ts: str, kind: str, transition: str = "raise",
                   value: float | None = None, limit: float | None = None,
                   details: dict[str, Any] | None = None,
                   category: EventCategory = EventCategory.EXPOSURE) -> AlarmEvent:  # fmt: skip
    return AlarmEvent(
        seq=seqs.take(), event_id=f"{kind}-{seqs.next}", point=point, category=category,
        kind=kind, transition=transition, value=value, limit=limit, ts=z(ts),
        message=f"{kind} {transition}", details=details or {},
    )  # fmt: skip


async def test_the_agents_exposure_judgements_are_in_the_ledger(target: Target) -> None:
    """CO (daily mean 11.0, under its TWA): the agent raised a STEL exceedance at 2025-06-01
    20:00Z (local Jun 2, 04:00), a TWA projection (a warning), a break of the ACGIH excursion
    rule (a practice, not a limit of the set) and reported the shift (TWA 9.5,
    coverage 0.9, under the limit); a clear, a limit alarm and a fault are not exposure
    findings. The daily figures hold no breach, yet the plant is not compliant: 1 exceeded."""
    shift = {"figures": [
        {"name": "twa", "value": 9.5, "limit": 17.18, "unit": "ppm", "coverage": 0.9,
         "uncertain": False, "exceeded": False},
        {"name": "stel", "value": 30.0, "limit": 34.36, "unit": "ppm", "coverage": 1.0,
         "uncertain": False, "exceeded": False},
    ]}  # fmt: skip

    def more(seqs: Seqs, plant: str) -> dict[str, list[Any]]:
        cp = f"{plant}/gd-2/co"
        return {"events": [
            exposure_event(seqs, cp, "2025-06-01T20:00:00Z", "exposure.stel", value=40.1,
                           limit=34.36),
            exposure_event(seqs, cp, "2025-06-01T20:20:00Z", "exposure.stel", "clear"),
            exposure_event(seqs, cp, "2025-06-01T21:00:00Z", "exposure.twa_projection",
                           value=18.0, limit=17.18),
            exposure_event(seqs, cp, "2025-06-01T22:00:00Z", "exposure.stel_excursions",
                           value=5.0, limit=4.0),
            exposure_event(seqs, cp, "2025-06-02T00:00:00Z", "exposure.shift", "report",
                           value=9.5, limit=17.18, details=shift),
            exposure_event(seqs, cp, "2025-06-02T01:00:00Z", "limit.hh",
                           category=EventCategory.ALARM),
            exposure_event(seqs, cp, "2025-06-02T01:30:00Z", "fault.flatline",
                           category=EventCategory.FAULT),
            exposure_event(seqs, cp, "2025-06-03T01:00:00Z", "exposure.stel"),  # after END
        ]}  # fmt: skip

    co = [("2025-06-01T20:00:00Z", 10.0), ("2025-06-02T03:00:00Z", 12.0)]
    plant = await plant_with(target, region="south", limit_set="cn-gbz-2019", h2s=[], co=co,
                             more=more)  # fmt: skip
    officer = await target.new_user("plant_safety_officer", f"plant:{plant}")
    ledger = (
        await target.get("/api/v1/compliance/ledger", officer, plant=plant, start=START, end=END)
    ).json()
    assert (ledger["exceedance_count"], ledger["exposure_exceedance_count"]) == (0, 1)
    assert ledger["compliant"] is False
    found = [(f["date"], f["kind"], f["judged"], f["exceeded"], f["value"], f["coverage"])
             for f in ledger["exposure_findings"]]  # fmt: skip
    assert found == [
        ("2025-06-02", "exposure.stel", "exceeded", True, 40.1, None),
        ("2025-06-02", "exposure.twa_projection", "projected", False, 18.0, None),
        ("2025-06-02", "exposure.stel_excursions", "excursion_rule", False, 5.0, None),
        ("2025-06-02", "exposure.shift", "shift_report", False, 9.5, 0.9),
    ]
    report = ledger["exposure_findings"][3]
    assert [f["name"] for f in report["figures"]] == ["twa", "stel"]
    assert (report["device_serial"], report["unit"]) == ("SN-2", "ppm")
    assert ledger["exposure_findings_truncated"] is False

    r = await target.get("/api/v1/compliance/report", officer, plant=plant, start=START, end=END,
                         format="csv")  # fmt: skip
    rows = [x for x in csv.DictReader(io.StringIO(r.text)) if x["record"] == "exposure"]
    assert [(x["breaches"], x["judged"], x["exceedances"], x["value"], x["limit"], x["coverage"])
            for x in rows] == [
        ("exposure.stel", "exceeded", "1", "40.1", "34.36", ""),
        ("exposure.twa_projection", "projected", "0", "18", "17.18", ""),
        ("exposure.stel_excursions", "excursion_rule", "0", "5", "4", ""),
        ("exposure.shift", "shift_report", "0", "9.5", "17.18", "0.9"),
    ]  # fmt: skip
    html = (await target.get("/api/v1/compliance/report", officer, plant=plant, start=START,
                             end=END, format="html")).text  # fmt: skip
    assert "NOT compliant: 0 exceedance(s) in the daily figures, 1 exposure limit(s)" in html
    assert "Exposure as judged by the agents" in html

    # Another plant's agent judgements stay out, and an officer of it cannot read this one.
    other = await plant_with(target, region="south", limit_set="cn-gbz-2019", h2s=[], co=co)
    theirs = await target.get(
        "/api/v1/compliance/ledger", officer, plant=other, start=START, end=END
    )
    assert theirs.status_code == 404  # out of scope: as if it did not exist
    director = await target.new_user("hq_director")
    clean = (
        await target.get("/api/v1/compliance/ledger", director, plant=other, start=START, end=END)
    ).json()
    assert (clean["compliant"], clean["exposure_findings"]) == (True, [])


async def test_an_osha_h2s_peak_within_the_allowance_is_left_to_the_agent(
    target: Target,
) -> None:
    """us-osha H2S: ceiling 20 ppm with a peak allowance of 50 ppm. Jun 1 peaks at 30 ppm (above
    the ceiling, under the peak: the agent judged it, exposure.peak); Jun 2 reaches 55 ppm, over
    the peak value itself: a breach whatever the duration."""
    h2s = [("2025-06-01T02:00:00Z", 30.0), ("2025-06-01T03:00:00Z", 5.0),
           ("2025-06-02T02:00:00Z", 55.0)]  # fmt: skip

    def more(seqs: Seqs, plant: str) -> dict[str, list[Any]]:
        hp = f"{plant}/gd-1/h2s"
        return {"events": [exposure_event(seqs, hp, "2025-06-01T02:00:00Z", "exposure.peak",
                                          value=30.0, limit=20.0)]}  # fmt: skip

    plant = await plant_with(target, region="west", limit_set="us-osha", h2s=h2s, more=more)
    director = await target.new_user("hq_director")
    ledger = (
        await target.get("/api/v1/compliance/ledger", director, plant=plant, start=START, end=END)
    ).json()
    (point,) = [p for p in ledger["points"] if p["point"].endswith("h2s")]
    (lim,) = point["limits"]
    assert (lim["kind"], lim["value"], lim["native_value"]) == ("ceiling", 50.0, 50.0)
    assert "peak" in lim["source"]
    d1, d2 = point["days"]
    assert (d1["max"], d1["breaches"], d2["max"], d2["breaches"]) == (30.0, [], 55.0, ["ceiling"])
    (x,) = ledger["exceedances"]
    assert (x["date"], x["observed"], x["readings_over"]) == ("2025-06-02", 55.0, 1)
    (note,) = [n for n in ledger["not_evaluated"] if "peak allowance" in n["reason"]]
    assert note["point"] == point["point"]
    assert "ceiling 20 ppm" in note["reason"]
    (finding,) = ledger["exposure_findings"]
    assert (finding["kind"], finding["judged"], finding["exceeded"]) == (
        "exposure.peak",
        "peak_allowance",
        False,
    )
    assert (ledger["compliant"], ledger["exposure_exceedance_count"]) == (False, 0)


async def test_what_if_lists_exactly_the_plants_pushed_out(target: Target) -> None:
    region = unique("wi")
    # L breaches today; M peaks at 5 ppm (under 7.06: compliant); N has no limit set, 3 ppm.
    l_ = await plant_with(target, region=region, limit_set="cn-gbz-2019", h2s=H2S_L)
    m = await plant_with(target, region=region, limit_set="cn-gbz-2019",
                         h2s=[("2025-06-01T02:00:00Z", 5.0), ("2025-06-01T03:00:00Z", 0.5)])  # fmt: skip
    n = await plant_with(target, region=region, limit_set=None, h2s=[("2025-06-01T02:00:00Z", 3.0)])
    manager = await target.new_user("regional_manager", f"region:{region}")

    # A 4 ppm ceiling: M (max 5) is pushed out; N (max 3) stays in; L was out already.
    body = {
        "limits": {"gas.h2s": {"ceiling": {"value": 4, "unit": "ppm"}}},
        "start": START,
        "end": END,
    }
    r = await target.client.post(
        "/api/v1/compliance/what-if", json=body, headers=target.auth(manager)
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["pushed_out"] == [m]
    assert sorted(result["out_of_compliance"]) == sorted([l_, m])
    plants = {p["plant"]: p for p in result["plants"]}
    assert set(plants) == {l_, m, n}  # the manager's region only
    assert (plants[m]["compliant_now"], plants[m]["compliant_what_if"]) == (True, False)
    assert plants[m]["breaches_what_if"] == [{"point": f"{m}/gd-1/h2s", "date": "2025-06-01", "kind": "ceiling",
                                              "basis": "daily_max", "limit": 4.0, "unit": "ppm", "observed": 5.0}]  # fmt: skip
    assert (
        plants[n]["compliant_now"],
        plants[n]["compliant_what_if"],
        plants[n]["pushed_out"],
    ) == (None, True, False)
    assert (plants[l_]["compliant_now"], plants[l_]["pushed_out"]) == (False, False)

    # ACGIH's H2S TWA of 1 ppm against the daily means: M's Jun 1 mean (5 + 0.5)/2 = 2.75 and
    # N's 3.0 breach it; both are pushed out.
    body = {"limit_set": "acgih-tlv", "start": START, "end": END, "plants": [l_, m, n]}
    r = await target.client.post(
        "/api/v1/compliance/what-if", json=body, headers=target.auth(manager)
    )
    assert sorted(r.json()["pushed_out"]) == sorted([m, n])
    unknown = {"limit_set": "moon-2099", "start": START, "end": END}
    r = await target.client.post(
        "/api/v1/compliance/what-if", json=unknown, headers=target.auth(manager)
    )
    assert r.status_code == 422
    assert "moon-2099" in r.json()["detail"]
    assert "cn-gbz-2019" in r.json()["detail"]  # the known ones are named


async def test_extension_fields_are_validated_and_name_the_bad_field(target: Target) -> None:
    south = await plant_with(target, region="south", limit_set=None, h2s=[])
    north = await plant_with(target, region="north", limit_set=None, h2s=[])
    admin = await target.admin_token()
    for plant, fields in (
        (south, [{"name": "typhoon_shutters_closed", "type": "boolean", "required": True},
                 {"name": "signal", "type": "choice", "choices": ["T1", "T3", "T8", "T10"]},
                 {"name": "sandbags", "type": "integer", "unit": "bags"},
                 {"name": "inspected_on", "type": "date"}]),
        (north, [{"name": "frost_check_done", "type": "boolean", "required": True},
                 {"name": "min_temp", "type": "number", "unit": "°C", "applies_to": "point"}]),
    ):  # fmt: skip
        for f in fields:
            r = await target.client.post(
                f"/api/v1/plants/{plant}/extension-fields", json=f, headers=target.auth(admin)
            )
            assert r.status_code == 201, r.text
    officer = await target.new_user("plant_safety_officer", f"plant:{south}")
    url = f"/api/v1/plants/{south}/extensions/plant/{south}"
    good = {
        "typhoon_shutters_closed": True,
        "signal": "T8",
        "sandbags": 40,
        "inspected_on": "2025-07-01",
    }
    r = await target.client.put(url, json={"values": good}, headers=target.auth(officer))
    assert r.status_code == 200, r.text
    assert r.json()["values"] == good
    for values, field, words in (
        ({**good, "typhoon_shutters_closed": "yes"}, "typhoon_shutters_closed", "expected true or false, got 'yes'"),
        ({"signal": "T8"}, "typhoon_shutters_closed", "required"),
        ({**good, "signal": "T5"}, "signal", "expected one of 'T1', 'T3', 'T8', 'T10'"),
        ({**good, "sandbags": 2.5}, "sandbags", "a whole number"),
        ({**good, "inspected_on": "July"}, "inspected_on", "a date YYYY-MM-DD"),
        ({**good, "frost_check_done": True}, "frost_check_done", "no such extension field"),
    ):  # fmt: skip
        r = await target.client.put(url, json={"values": values}, headers=target.auth(officer))
        assert r.status_code == 422, r.text
        assert r.json()["location"] == ["values", field]
        assert f"values.{field}: " in r.json()["detail"]
        assert words in r.json()["detail"]
    stored = (await target.get(f"/api/v1/plants/{south}/extensions", officer)).json()
    assert [rec["values"] for rec in stored["records"]] == [good]  # nothing refused was stored
    assert sorted(f["name"] for f in stored["fields"]) == [
        "inspected_on",
        "sandbags",
        "signal",
        "typhoon_shutters_closed",
    ]
    point = f"{north}/gd-1/h2s"
    chief = await target.new_user("plant_safety_officer", f"plant:{north}")
    r = await target.client.put(
        f"/api/v1/plants/{north}/extensions/point/{point}",
        json={"values": {"min_temp": -18.5}},
        headers=target.auth(chief),
    )
    assert r.status_code == 200, r.text
    r = await target.client.put(
        f"/api/v1/plants/{north}/extensions/point/{north}/nope/x",
        json={"values": {}},
        headers=target.auth(chief),
    )
    assert r.status_code == 404
