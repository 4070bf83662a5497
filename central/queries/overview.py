"""Live status of plants (points, points in alarm or fault, devices offline, agents) and one
plant's overview: its areas with their points' latest values and alarm states.

Counts are one grouped query each over all plants asked for; agents' heartbeats are summarised
by :func:`central.queries.fleet.plant_statuses`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, and_, case, func, select
from sqlmodel import Session

from central.core.epoch import iso
from central.models import (
    ACTIVE_STATES,
    QUALITY_NAME,
    AlarmState,
    Area,
    AreaNow,
    Device,
    Event,
    LatestReading,
    LiveStatus,
    Plant,
    PlantOverview,
    PlantStatus,
    Point,
    PointNow,
    Region,
)

from .alarms import alarm_rows, public
from .fleet import plant_statuses
from .scope import Scope

alarm_t: Table = AlarmState.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]
device_t: Table = Device.__table__  # type: ignore[attr-defined]
area_t: Table = Area.__table__  # type: ignore[attr-defined]
latest_t: Table = LatestReading.__table__  # type: ignore[attr-defined]
event_t: Table = Event.__table__  # type: ignore[attr-defined]

ALARM_CATEGORIES = ("alarm", "exposure")
# Most urgent first: what an operator must see before anything else (ISA-18.2 B, E, D, C, F).
STATE_URGENCY = [
    "active_unacked",
    "latched_unacked",
    "rtn_unacked",
    "active_acked",
    "latched_acked",
    "fault",
    "shelved",
    "suppressed",
    "out_of_service",
    "ok",
    "normal",
]
_URGENCY = {s: i for i, s in enumerate(STATE_URGENCY)}
QUIET = ("normal", "ok")


def _count_by_plant(session: Session, stmt: Any) -> dict[int, int]:
    return {pid: int(n or 0) for pid, n in session.exec(stmt).all()}


def live_status(
    session: Session, *, plant_ids: list[int], now_us: int, stale_after_s: float
) -> dict[int, LiveStatus]:
    """Live status of each plant in ``plant_ids`` (the caller has scoped them)."""
    if not plant_ids:
        return {}
    in_ids = point_t.c.plant_id.in_(plant_ids)
    measured = point_t.c.measured.is_(True)  # a PLC's written outputs are no sensors
    points = _count_by_plant(
        session,
        select(point_t.c.plant_id, func.count())
        .where(in_ids, measured)
        .group_by(point_t.c.plant_id),
    )
    devices = _count_by_plant(
        session,
        select(device_t.c.plant_id, func.count())
        .where(device_t.c.plant_id.in_(plant_ids))
        .group_by(device_t.c.plant_id),
    )
    active = alarm_t.c.state.in_(ACTIVE_STATES)
    flagged = session.exec(
        select(  # type: ignore[call-overload]
            alarm_t.c.plant_id,
            func.count(
                func.distinct(_when(alarm_t.c.category.in_(ALARM_CATEGORIES), alarm_t.c.point_id))
            ),
            func.count(func.distinct(_when(alarm_t.c.category == "fault", alarm_t.c.point_id))),
        )
        .where(alarm_t.c.plant_id.in_(plant_ids), active)
        .group_by(alarm_t.c.plant_id)
    ).all()
    in_alarm = {pid: a for pid, a, _f in flagged}
    in_fault = {pid: f for pid, _a, f in flagged}
    statuses = plant_statuses(
        session,
        Scope(frozenset(plant_ids)),
        now_us=now_us,
        stale_after_s=stale_after_s,
        region=None,
        limit=len(plant_ids),
        offset=0,
    )
    by_key = {s.plant: s for s in statuses.plants}
    plant_t: Table = Plant.__table__  # type: ignore[attr-defined]
    keys: dict[int, str] = dict(
        session.exec(  # type: ignore[call-overload]
            select(plant_t.c.id, plant_t.c.key).where(plant_t.c.id.in_(plant_ids))
        ).all()
    )
    out: dict[int, LiveStatus] = {}
    for pid in plant_ids:
        st: PlantStatus | None = by_key.get(keys.get(pid, ""))
        agents = st.agents if st else []
        out[pid] = LiveStatus(
            status=st.status if st else "no_agent",
            points=points.get(pid, 0),
            points_in_alarm=in_alarm.get(pid, 0),
            points_in_fault=in_fault.get(pid, 0),
            devices=devices.get(pid, 0),
            devices_offline=st.devices_down if st else 0,
            agents=len(agents),
            agents_online=sum(1 for a in agents if a.online),
            behind_s=st.behind_s if st else 0.0,
            outbox_fill=st.outbox_fill if st else None,
        )
    return out


def _when(condition: Any, value: Any) -> Any:
    return case((condition, value), else_=None)


def last_written(
    session: Session, plant_id: int, point_ids: list[int]
) -> dict[int, tuple[float | None, int]]:
    """Point id -> (value, time) of the agent's last successful write to each PLC output
    (``interlock.output`` ``write`` events; one index seek per point on ``ix_event_point_ts``)."""
    if not point_ids:
        return {}
    e = event_t
    newest = (
        select(e.c.point_id, func.max(e.c.ts).label("ts"))
        .where(
            e.c.plant_id == plant_id,
            e.c.point_id.in_(point_ids),
            e.c.kind == "interlock.output",
            e.c.transition == "write",
        )
        .group_by(e.c.point_id)
        .subquery()
    )
    rows = session.exec(  # type: ignore[call-overload]
        select(e.c.point_id, e.c.value, e.c.ts)
        .join(newest, and_(e.c.point_id == newest.c.point_id, e.c.ts == newest.c.ts))
        .where(
            e.c.plant_id == plant_id,
            e.c.kind == "interlock.output",
            e.c.transition == "write",
        )
    ).all()
    return {int(pid): (value, int(ts)) for pid, value, ts in rows}


def plant_overview(
    session: Session,
    plant: Plant,
    *,
    now_us: int,
    stale_after_s: float,
    limit: int,
    with_exposure: bool,
) -> PlantOverview:
    assert plant.id is not None
    categories = [*ALARM_CATEGORIES] if with_exposure else ["alarm"]
    rows = session.exec(
        select(  # type: ignore[call-overload]
            point_t.c.id,
            point_t.c.key,
            device_t.c.key.label("device"),
            area_t.c.key.label("area"),
            area_t.c.name.label("area_name"),
            point_t.c.name,
            point_t.c.quantity,
            point_t.c.unit,
            point_t.c.measured,
            latest_t.c.value,
            latest_t.c.quality,
            latest_t.c.source_ts,
        )
        .select_from(point_t)
        .join(device_t, device_t.c.id == point_t.c.device_id)
        .outerjoin(area_t, area_t.c.id == point_t.c.area_id)
        .outerjoin(latest_t, latest_t.c.point_id == point_t.c.id)
        .where(point_t.c.plant_id == plant.id)
        .order_by(area_t.c.key, point_t.c.key)
        .limit(limit + 1)
    ).all()
    states: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for point_id, alarm_id, state in session.exec(
        select(alarm_t.c.point_id, alarm_t.c.alarm_id, alarm_t.c.state).where(  # type: ignore[call-overload]
            alarm_t.c.plant_id == plant.id,
            alarm_t.c.category.in_([*categories, "fault"]),
        )
    ).all():
        states[point_id].append((alarm_id, state))
    written = last_written(session, plant.id, [r.id for r in rows[:limit] if not r.measured])
    areas: dict[str | None, AreaNow] = {}
    for r in rows[:limit]:
        mine = states.get(r.id, [])
        value, quality, source_ts = r.value, r.quality, r.source_ts
        if not r.measured:
            value, source_ts = written.get(r.id, (None, None))
        worst = min((s for _a, s in mine), key=lambda s: _URGENCY.get(s, 99), default=None)
        node = areas.setdefault(r.area, AreaNow(area=r.area, name=r.area_name or "", points=[]))
        node.points.append(
            PointNow(
                point=r.key,
                device=r.device,
                name=r.name,
                quantity=r.quantity,
                unit=r.unit,
                value=value,
                quality=QUALITY_NAME.get(quality) if quality is not None else None,
                source_ts=iso(source_ts),
                age_s=round((now_us - source_ts) / 1e6, 3) if source_ts is not None else None,
                alarm_state=worst,
                alarms=sorted(a for a, s in mine if s not in QUIET),
                measured=bool(r.measured),
            )
        )
    active = alarm_rows(
        session,
        [
            alarm_t.c.plant_id == plant.id,
            alarm_t.c.state.in_(ACTIVE_STATES),
            alarm_t.c.category.in_(categories),
        ],
        limit,
    )
    live = live_status(
        session,
        plant_ids=[plant.id],
        now_us=now_us,
        stale_after_s=stale_after_s,
    )[plant.id]
    region = session.get(Region, plant.region_id)
    return PlantOverview(
        plant=plant.key,
        name=plant.name,
        region=region.key if region else "",
        live=live,
        areas=list(areas.values()),
        active_alarms=[public(a) for a in active],
        truncated=len(rows) > limit,
    )


__all__ = ["STATE_URGENCY", "live_status", "plant_overview"]
