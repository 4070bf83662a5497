"""The ledger of one plant over whole local days, set-based from the hourly roll-up.

Two queries: (1) every (point, day) of the period with its samples, values, sum and maximum
(thinned aggregates included: the roll-up holds them); (2) for the (point, day) pairs that
breach a limit, the raw readings above that limit, and the thinned minutes whose maximum is
above it, with their counts. Comparing a day's mean or maximum with a limit is arithmetic on
those rows. The agents' own exposure judgements (STEL, shift TWA, noise dose) come from their
events (exposure.py).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Table,
    and_,
    case,
    func,
    literal,
    select,
    union_all,
)
from sqlmodel import Session

from central.core.epoch import iso
from central.models import (
    DAY_US,
    QUALITY_NAME,
    Area,
    Device,
    EvidenceAggregate,
    EvidenceReading,
    Exceedance,
    Ledger,
    LedgerDay,
    LedgerPoint,
    LimitSetInfo,
    NotEvaluated,
    Plant,
    Point,
    Reading,
    ReadingAggregate,
    ReadingHourly,
    SubstanceIn,
)
from device_profiles import LimitSet

from .days import Day, offset_segments, whole_hour_offsets
from .exposure import MAX_LISTED, exceeded_count, exposure_findings
from .limits import PointLimits, PointRef, resolve_limits

COMPUTED = "on demand, set-based, from the hourly roll-up of readings"

hourly_t: Table = ReadingHourly.__table__  # type: ignore[attr-defined]
reading_t: Table = Reading.__table__  # type: ignore[attr-defined]
aggregate_t: Table = ReadingAggregate.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]
device_t: Table = Device.__table__  # type: ignore[attr-defined]
area_t: Table = Area.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class DayStats:
    samples: int
    values: int
    total: float
    max: float | None

    @property
    def mean(self) -> float | None:
        return self.total / self.values if self.values else None


@dataclass(frozen=True, slots=True)
class Breach:
    point_id: int
    day: int
    """Index into the period's days."""
    kind: str
    limit: float
    observed: float


def daily_stats(
    session: Session, *, point_ids: list[int], days: list[Day], tz: str
) -> dict[tuple[int, int], DayStats]:
    """(point id, day index) -> the day's figures, for every point-day with readings.

    The day of an hour is its local date: ``(hour + utc offset) // 24 h``, the offset taken
    from a CASE over the zone's offset changes in the period (none without DST), so the query
    stays one GROUP BY whatever the period's length.
    """
    if not point_ids or not days:
        return {}
    h = hourly_t
    start, end = days[0].start_us, days[-1].end_us
    segments = offset_segments(days, tz)
    offset: Any = literal(segments[0][1], BigInteger)
    if len(segments) > 1:
        offset = case(
            *(
                (h.c.hour_ts < literal(nxt_from, BigInteger), literal(off, BigInteger))
                for (_from, off), (nxt_from, _o) in itertools.pairwise(segments)
            ),
            else_=literal(segments[-1][1], BigInteger),
        )
    first_day = (start + segments[0][1]) // DAY_US
    day_no = ((h.c.hour_ts + offset) // literal(DAY_US, BigInteger) - first_day).label("day_no")
    stmt = (
        select(
            h.c.point_id,
            day_no,
            func.sum(h.c.samples),
            func.sum(h.c.valued),
            func.sum(h.c.sum_value),
            func.max(h.c.max_value),
        )
        .where(h.c.point_id.in_(point_ids), h.c.hour_ts >= start, h.c.hour_ts < end)
        .group_by(h.c.point_id, day_no)
    )
    out: dict[tuple[int, int], DayStats] = {}
    for pid, n, samples, values, total, high in session.exec(stmt).all():  # type: ignore[call-overload]
        out[(int(pid), int(n))] = DayStats(
            int(samples), int(values or 0), float(total or 0.0), high
        )
    return out


def find_breaches(
    stats: Mapping[tuple[int, int], DayStats], limits: list[PointLimits]
) -> list[Breach]:
    """TWA: the day's mean above it; ceiling: the day's maximum above it (strictly)."""
    by_point = {p.point_id: p for p in limits}
    out: list[Breach] = []
    for (pid, n), st in sorted(stats.items()):
        pl = by_point.get(pid)
        if pl is None:
            continue
        for lim in pl.limits:
            observed = st.mean if lim.kind == "twa" else st.max
            if observed is not None and observed > lim.value:
                out.append(Breach(pid, n, lim.kind, lim.value, observed))
    return out


EVIDENCE_CHUNK = 100
"""Breaches per evidence query: SQLite caps a compound SELECT at 500 terms."""


Proof = dict[int, tuple[int, list[tuple[Any, ...]]]]
"""Breach index -> (rows above its limit that day, the first ``cap`` of them in time)."""


def evidence(session: Session, *, breaches: list[Breach], days: list[Day], cap: int) -> Proof:
    """Breach index -> (readings above its limit that day, the first ``cap`` of them), each
    ``(source_ts, value, quality)``."""
    r = reading_t
    return _over(session, breaches, days, cap, table=r, ts=r.c.source_ts, value=r.c.value,
                 show=(r.c.source_ts, r.c.value, r.c.quality))  # fmt: skip


def thinned_evidence(
    session: Session, *, breaches: list[Breach], days: list[Day], cap: int
) -> Proof:
    """Breach index -> (thinned minutes whose maximum is above its limit that day, the first
    ``cap`` of them), each ``(from_ts, to_ts, count, min, max, mean, quality)``: where the agent
    kept only a minute's aggregate, that aggregate is the evidence."""
    a = aggregate_t
    return _over(session, breaches, days, cap, table=a, ts=a.c.from_ts, value=a.c.max,
                 show=(a.c.from_ts, a.c.to_ts, a.c.count, a.c.min, a.c.max, a.c.mean,
                       a.c.quality))  # fmt: skip


def _over(
    session: Session,
    breaches: list[Breach],
    days: list[Day],
    cap: int,
    *,
    table: Table,
    ts: Any,
    value: Any,
    show: tuple[Any, ...],
) -> Proof:
    out: Proof = {}
    for first in range(0, len(breaches), EVIDENCE_CHUNK):
        chunk = breaches[first : first + EVIDENCE_CHUNK]
        wanted = union_all(
            *(
                select(
                    literal(first + i, Integer).label("tag"),
                    literal(b.point_id, Integer).label("pid"),
                    literal(days[b.day].start_us, BigInteger).label("ds"),
                    literal(days[b.day].end_us, BigInteger).label("de"),
                    literal(b.limit, Float).label("lim"),
                )
                for i, b in enumerate(chunk)
            )
        ).cte("wanted")
        inner = (
            select(
                wanted.c.tag,
                func.count().over(partition_by=wanted.c.tag).label("total"),
                func.row_number()
                .over(partition_by=wanted.c.tag, order_by=(ts, table.c.seq))
                .label("rn"),
                *(c.label(f"c{n}") for n, c in enumerate(show)),
            )
            .join(
                wanted,
                and_(
                    table.c.point_id == wanted.c.pid,
                    ts >= wanted.c.ds,
                    ts < wanted.c.de,
                    value > wanted.c.lim,
                ),
            )
            .subquery()
        )
        shown = [inner.c[f"c{n}"] for n in range(len(show))]
        rows = session.exec(  # type: ignore[call-overload]
            select(inner.c.tag, inner.c.total, *shown)
            .where(inner.c.rn <= cap)
            .order_by(inner.c.tag, shown[0])
        ).all()
        for tag, total, *cols in rows:
            entry = out.setdefault(int(tag), (int(total), []))
            entry[1].append(tuple(cols))
    return out


@dataclass(frozen=True, slots=True)
class LedgerInputs:
    plant: Plant
    region: str
    timezone: str
    limit_set: LimitSet | None
    days: list[Day]
    overrides: Mapping[str, SubstanceIn] | None = None


def plant_points(session: Session, plant_id: int) -> list[Any]:
    return list(
        session.exec(  # type: ignore[call-overload]
            select(
                point_t.c.id,
                point_t.c.key,
                point_t.c.quantity,
                point_t.c.unit,
                device_t.c.key.label("device"),
                device_t.c.serial,
                device_t.c.calibration_due_ts,
                area_t.c.key.label("area"),
            )
            .join(device_t, device_t.c.id == point_t.c.device_id)
            .outerjoin(area_t, area_t.c.id == point_t.c.area_id)
            .where(point_t.c.plant_id == plant_id)
            .order_by(point_t.c.key)
        ).all()
    )


def evaluate_plant(
    session: Session, inputs: LedgerInputs, points: list[Any]
) -> tuple[list[PointLimits], list[NotEvaluated], dict[tuple[int, int], DayStats], list[Breach]]:
    """Limits per point, what is not evaluated, daily figures and breaches of one plant;
    ``points`` are its :func:`plant_points`."""
    refs = [PointRef(p.id, p.key, p.quantity, p.unit) for p in points]
    limits, skipped = resolve_limits(refs, inputs.limit_set, inputs.overrides)
    stats = daily_stats(
        session, point_ids=[p.point_id for p in limits], days=inputs.days, tz=inputs.timezone
    )
    return limits, skipped, stats, find_breaches(stats, limits)


def ledger_for(session: Session, inputs: LedgerInputs, *, evidence_cap: int) -> Ledger:
    """The full ledger of one plant: every evaluated point-day, and each exceedance with the
    raw readings behind it, the device serial and its calibration status."""
    plant = inputs.plant
    assert plant.id is not None
    days = inputs.days
    point_rows = plant_points(session, plant.id)
    points = {p.id: p for p in point_rows}
    limits, skipped, stats, breaches = evaluate_plant(session, inputs, point_rows)
    limits_of = {pl.point_id: pl for pl in limits}
    proof = evidence(session, breaches=breaches, days=days, cap=evidence_cap)
    thin = thinned_evidence(session, breaches=breaches, days=days, cap=evidence_cap)

    over_by: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    exceedances: list[Exceedance] = []
    for i, b in enumerate(breaches):
        total, rows = proof.get(i, (0, []))
        thin_total, thin_rows = thin.get(i, (0, []))
        over_by[(b.point_id, b.day)].append((b.kind, total + thin_total))
        p = points[b.point_id]
        due = p.calibration_due_ts
        status = "unknown"
        if due is not None:
            # A thinned minute counts as taken at its end: some reading in it may be that late.
            latest = [ts for ts, _v, _q in rows] + [row[1] for row in thin_rows]
            status = "overdue" if any(ts > due for ts in latest) else "valid"
        lim = limits_of[b.point_id].limit(b.kind)
        assert lim is not None
        exceedances.append(
            Exceedance(
                point=p.key,
                device=p.device,
                device_serial=p.serial,
                date=days[b.day].day.isoformat(),
                kind=b.kind,
                basis=lim.basis,
                limit=b.limit,
                unit=lim.unit,
                observed=b.observed,
                readings_over=total,
                calibration_due=iso(due),
                calibration_status=status,
                readings=[
                    EvidenceReading(
                        ts=iso(ts) or "",
                        value=v,
                        quality=QUALITY_NAME.get(q, str(q)),
                        calibration_overdue=None if due is None else ts > due,
                    )
                    for ts, v, q in rows
                ],
                readings_truncated=total > len(rows),
                thinned_over=thin_total,
                thinned=[
                    EvidenceAggregate(
                        from_ts=iso(f) or "",
                        to_ts=iso(t) or "",
                        count=n,
                        min=lo,
                        max=hi,
                        mean=mean,
                        quality=QUALITY_NAME.get(q, str(q)),
                        calibration_overdue=None if due is None else t > due,
                    )
                    for f, t, n, lo, hi, mean, q in thin_rows
                ],
                thinned_truncated=thin_total > len(thin_rows),
            )
        )

    ledger_points: list[LedgerPoint] = []
    for pl in limits:
        p = points[pl.point_id]
        day_rows = []
        for n, d in enumerate(days):
            st = stats.get((pl.point_id, n))
            if st is None:
                continue
            kinds = over_by.get((pl.point_id, n), [])
            day_rows.append(
                LedgerDay(
                    date=d.day.isoformat(),
                    samples=st.samples,
                    values=st.values,
                    mean=st.mean,
                    max=st.max,
                    exceedances=sum(1 if k == "twa" else count for k, count in kinds),
                    breaches=[k for k, _c in kinds],
                )
            )
        ledger_points.append(
            LedgerPoint(
                point=p.key,
                device=p.device,
                device_serial=p.serial,
                calibration_due=iso(p.calibration_due_ts),
                area=p.area,
                quantity=pl.quantity,
                unit=pl.unit,
                limits=list(pl.limits),
                days=day_rows,
            )
        )
    period = {"plant_id": plant.id, "start_us": days[0].start_us, "end_us": days[-1].end_us}
    findings, truncated = exposure_findings(session, **period, tz=inputs.timezone, cap=MAX_LISTED)
    # The list holds every finding unless it was cut short: count from it, or else in SQL.
    exposure_over = (
        exceeded_count(session, **period)
        if truncated
        else sum(f.judged == "exceeded" for f in findings)
    )
    ls = inputs.limit_set
    basis = inputs.timezone
    if not whole_hour_offsets(days):
        basis += " (days approximated to whole UTC hours)"
    return Ledger(
        plant=plant.key,
        region=inputs.region,
        limit_set=LimitSetInfo(
            id=ls.id, name=ls.name, jurisdiction=ls.jurisdiction, molar_volume_l=ls.molar_volume_l
        )
        if ls
        else None,
        timezone=basis,
        start=iso(days[0].start_us) or "",
        end=iso(days[-1].end_us) or "",
        days=len(days),
        computed=COMPUTED,
        compliant=False
        if exposure_over or any(f.exceeded for f in findings)
        else ((not breaches) if (ls is not None or inputs.overrides) else None),
        exceedance_count=sum(d.exceedances for p in ledger_points for d in p.days),
        points=ledger_points,
        exceedances=exceedances,
        not_evaluated=skipped
        + (
            [NotEvaluated(point=None, quantity="*", reason="the plant names no limit set")]
            if ls is None and not inputs.overrides
            else []
        ),
        exposure_exceedance_count=exposure_over,
        exposure_findings=findings,
        exposure_findings_truncated=truncated,
    )


__all__ = [
    "Breach",
    "DayStats",
    "LedgerInputs",
    "daily_stats",
    "evaluate_plant",
    "find_breaches",
    "ledger_for",
    "plant_points",
    "thinned_evidence",
]
