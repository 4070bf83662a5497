"""The fleet KPI page: every plant in scope with its live status and KPIs over a period,
rolled up per region and ranked by a chosen KPI."""

from __future__ import annotations

from sqlmodel import Session, col, select

from central.core.config import Settings
from central.core.epoch import iso
from central.errors import Unprocessable
from central.models import (
    FleetOverview,
    KpiTarget,
    LiveStatus,
    Plant,
    PlantKpiRow,
    RankEntry,
    Ranking,
    Region,
    RegionKpiRow,
)

from .kpi import BETTER, Period, PlantNumbers, kpi_numbers
from .overview import live_status
from .scope import Scope

TARGETS = [
    KpiTarget(
        kpi="alarms_per_10min_avg",
        target=1.0,
        better="lower",
        source="ISA-18.2: ~1 per 10 min acceptable, ~2 manageable (hse-standards §1.4 [A8][A9])",
    ),
    KpiTarget(
        kpi="alarms_per_10min_peak",
        target=10.0,
        better="lower",
        source="max alarms in any 10-min period <= 10 (hse-standards §1.4 [A8])",
    ),
    KpiTarget(
        kpi="flood_periods_pct",
        target=1.0,
        better="lower",
        source="% of 10-min periods with > 10 alarms < ~1 % (hse-standards §1.4 [A10][A15])",
    ),
    KpiTarget(
        kpi="chattering_alarms",
        target=0.0,
        better="lower",
        source="chattering and fleeting alarms: zero (hse-standards §1.4 [A10])",
    ),
    KpiTarget(
        kpi="stale_alarms",
        target=5.0,
        better="lower",
        source="stale alarms < 5 present on any day (hse-standards §1.4 [A10])",
    ),
]


def _roll_live(rows: list[LiveStatus]) -> LiveStatus:
    fills = [r.outbox_fill for r in rows if r.outbox_fill is not None]
    order = ["offline", "no_agent", "full", "behind", "devices_down", "ok"]
    worst = min(
        (r.status for r in rows), key=lambda s: order.index(s) if s in order else 0, default="ok"
    )
    return LiveStatus(
        status=worst,
        points=sum(r.points for r in rows),
        points_in_alarm=sum(r.points_in_alarm for r in rows),
        points_in_fault=sum(r.points_in_fault for r in rows),
        devices=sum(r.devices for r in rows),
        devices_offline=sum(r.devices_offline for r in rows),
        agents=sum(r.agents for r in rows),
        agents_online=sum(r.agents_online for r in rows),
        behind_s=max((r.behind_s for r in rows), default=0.0),
        outbox_fill=max(fills) if fills else None,
    )


def fleet_overview(
    session: Session,
    scope: Scope,
    *,
    period: Period,
    settings: Settings,
    region: str | None,
    ranking: str | None,
) -> FleetOverview:
    if ranking is not None and ranking not in BETTER:
        raise Unprocessable(
            f"ranking = {ranking!r}: expected one of {', '.join(BETTER)}",
            location=["query", "ranking"],
        )
    stmt = (
        select(Plant, Region)
        .join(Region, col(Region.id) == Plant.region_id)
        .where(scope.filter(col(Plant.id)))
        .order_by(col(Region.key), col(Plant.key))
        .limit(settings.max_query_limit)
    )
    if region is not None:
        stmt = stmt.where(Region.key == region)
    rows = session.exec(stmt).all()
    ids = [p.id for p, _r in rows if p.id is not None]
    live = live_status(
        session,
        plant_ids=ids,
        now_us=period.now_us,
        stale_after_s=settings.agent_stale_after_s,
    )
    numbers, region_tta = kpi_numbers(session, plant_ids=ids, period=period, settings=settings)

    plants: list[PlantKpiRow] = []
    by_region: dict[int, tuple[Region, list[LiveStatus], PlantNumbers]] = {}
    for plant, reg in rows:
        assert plant.id is not None
        assert reg.id is not None
        n = numbers[plant.id]
        plants.append(
            PlantKpiRow(
                plant=plant.key,
                name=plant.name,
                region=reg.key,
                live=live[plant.id],
                kpis=n.kpis(),
                devices=n.devices,
            )
        )
        _reg, lives, total = by_region.setdefault(reg.id, (reg, [], PlantNumbers()))
        lives.append(live[plant.id])
        total.add(n)
    regions: list[RegionKpiRow] = []
    for rid, (reg, lives, total) in by_region.items():
        tta = region_tta.get(rid)
        if tta is not None:
            total.judged, total.in_time = tta.judged, tta.in_time
            total.tta_mean_s, total.tta_p90_s = tta.tta_mean_s, tta.tta_p90_s
        regions.append(
            RegionKpiRow(
                region=reg.key,
                name=reg.name,
                plants=len(lives),
                live=_roll_live(lives),
                kpis=total.kpis(),
            )
        )

    ranked: Ranking | None = None
    if ranking is not None:
        better = BETTER[ranking]
        valued = [(getattr(p.kpis, ranking), p) for p in plants]
        present = sorted(
            (v for v in valued if v[0] is not None),
            key=lambda v: (-v[0] if better == "higher" else v[0], v[1].plant),
        )
        missing = [v for v in valued if v[0] is None]
        ranked = Ranking(
            kpi=ranking,
            better=better,
            plants=[
                RankEntry(rank=i + 1, plant=p.plant, region=p.region, value=value)
                for i, (value, p) in enumerate([*present, *missing])
            ],
        )
    return FleetOverview(
        start=iso(period.start_us) or "",
        end=iso(period.end_us) or "",
        period_s=(period.end_us - period.start_us) / 1e6,
        slot_s=settings.kpi_slot_s,
        ack_target_s=settings.ack_target_s,
        plants=plants,
        regions=regions,
        targets=TARGETS,
        ranking=ranked,
    )


__all__ = ["TARGETS", "fleet_overview"]
