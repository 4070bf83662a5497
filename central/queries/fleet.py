"""Fleet status and the org tree: what a safety manager opens first.

A plant's agents are summarised from their latest heartbeat: how far behind (age of the oldest
unsent record), how full the outbox is against its quota, which devices are down, and whether a
batch arrived recently, so "plant X is 6 h behind and 80 % full" is one glance.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from central.core.epoch import iso
from central.models import (
    Agent,
    AgentHealth,
    AgentStatus,
    Area,
    Device,
    OrgArea,
    OrgPlant,
    OrgRegion,
    OrgTree,
    Plant,
    PlantList,
    PlantStatus,
    Point,
    Region,
)

from .scope import Scope

BEHIND_WARN_S = 60.0
FULL_WARN = 0.8


def _agent_status(
    agent: Agent, health: AgentHealth | None, now: int, stale_s: float
) -> AgentStatus:
    if health is None:
        return AgentStatus(
            agent_id=agent.key,
            online=False,
            last_batch_at=None,
            silent_s=None,
            last_heartbeat_at=None,
            version="",
            backlog_records=0,
            oldest_unsent_at=None,
            behind_s=0.0,
            outbox_bytes=0,
            quota_bytes=0,
            outbox_fill=None,
            gaps_total=0,
            clock_offset_s=None,
            devices_down=[],
        )
    silent_s = (now - health.last_batch_ts) / 1e6
    behind_s = 0.0
    if health.backlog_records and health.oldest_unsent_ts is not None:
        behind_s = max(0.0, (now - health.oldest_unsent_ts) / 1e6)
    fill = health.outbox_bytes / health.quota_bytes if health.quota_bytes else None
    down = sorted(str(d.get("device")) for d in health.devices or [] if not d.get("connected"))
    return AgentStatus(
        agent_id=agent.key,
        online=silent_s <= stale_s,
        last_batch_at=iso(health.last_batch_ts),
        silent_s=round(silent_s, 3),
        last_heartbeat_at=iso(health.ts),
        version=health.version,
        backlog_records=health.backlog_records,
        oldest_unsent_at=iso(health.oldest_unsent_ts),
        behind_s=round(behind_s, 3),
        outbox_bytes=health.outbox_bytes,
        quota_bytes=health.quota_bytes,
        outbox_fill=round(fill, 4) if fill is not None else None,
        gaps_total=health.gaps_total,
        clock_offset_s=health.clock_offset_s,
        devices_down=down,
    )


def _plant_status(plant: Plant, region: str, agents: list[AgentStatus]) -> PlantStatus:
    behind = max((a.behind_s for a in agents), default=0.0)
    fills = [a.outbox_fill for a in agents if a.outbox_fill is not None]
    fill = max(fills) if fills else None
    down = sum(len(a.devices_down) for a in agents)
    if not agents:
        status = "no_agent"
    elif not any(a.online for a in agents):
        status = "offline"
    elif fill is not None and fill >= FULL_WARN:
        status = "full"
    elif behind > BEHIND_WARN_S:
        status = "behind"
    elif down:
        status = "devices_down"
    else:
        status = "ok"
    return PlantStatus(
        plant=plant.key,
        name=plant.name,
        region=region,
        status=status,
        behind_s=behind,
        outbox_fill=fill,
        devices_down=down,
        agents=agents,
    )


def plant_statuses(
    session: Session,
    scope: Scope,
    *,
    now_us: int,
    stale_after_s: float,
    region: str | None,
    limit: int,
    offset: int,
) -> PlantList:
    base = (
        select(Plant, Region.key)
        .join(Region, col(Region.id) == Plant.region_id)
        .where(scope.filter(col(Plant.id)))
    )
    if region is not None:
        base = base.where(Region.key == region)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(base.order_by(col(Plant.key)).offset(offset).limit(limit)).all()
    plant_ids = [p.id for p, _ in rows]
    by_plant: dict[int, list[AgentStatus]] = defaultdict(list)
    if plant_ids:
        agents = session.exec(
            select(Agent, AgentHealth)
            .join(AgentHealth, col(AgentHealth.agent_id) == Agent.id, isouter=True)
            .where(col(Agent.plant_id).in_(plant_ids), col(Agent.is_active))
            .order_by(col(Agent.key))
        ).all()
        for agent, health in agents:
            by_plant[agent.plant_id].append(_agent_status(agent, health, now_us, stale_after_s))
    plants = [_plant_status(p, rkey, by_plant.get(p.id or 0, [])) for p, rkey in rows]
    return PlantList(plants=plants, total=total, offset=offset, limit=limit)


def org_tree(session: Session, scope: Scope, *, max_plants: int, name: str = "HQ") -> OrgTree:
    """HQ, its regions, their plants in scope and the plants' areas, with counts."""
    plants = session.exec(
        select(Plant, Region)
        .join(Region, col(Region.id) == Plant.region_id)
        .where(scope.filter(col(Plant.id)))
        .order_by(col(Region.key), col(Plant.key))
        .limit(max_plants)
    ).all()
    ids = [p.id for p, _ in plants]

    def counts(column: Any) -> dict[int, int]:
        if not ids:
            return {}
        rows = session.exec(
            select(column, func.count()).where(column.in_(ids)).group_by(column)
        ).all()
        return dict(rows)

    agents = counts(col(Agent.plant_id))
    devices = counts(col(Device.plant_id))
    points = counts(col(Point.plant_id))
    areas: dict[int, list[OrgArea]] = defaultdict(list)
    if ids:
        area_rows = session.exec(
            select(Area, func.count(col(Point.id)))
            .join(Point, col(Point.area_id) == Area.id, isouter=True)
            .where(col(Area.plant_id).in_(ids))
            .group_by(col(Area.id))
            .order_by(col(Area.key))
        ).all()
        for area, n in area_rows:
            areas[area.plant_id].append(OrgArea(area=area.key, name=area.name, points=n))
    regions: dict[str, OrgRegion] = {}
    for plant, region in plants:
        pid = plant.id or 0
        node = regions.setdefault(
            region.key, OrgRegion(region=region.key, name=region.name, plants=[])
        )
        node.plants.append(
            OrgPlant(
                plant=plant.key,
                name=plant.name,
                limit_set=plant.limit_set,
                timezone=plant.timezone,
                agents=agents.get(pid, 0),
                devices=devices.get(pid, 0),
                points=points.get(pid, 0),
                areas=areas.get(pid, []),
            )
        )
    return OrgTree(name=name, regions=list(regions.values()))
