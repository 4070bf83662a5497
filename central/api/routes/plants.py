"""``/api/v1/plants``: fleet status per plant, registering and configuring plants, a plant's
latest values and its overview (areas, points, alarms)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from sqlmodel import Session, select

from central import crud
from central.api.deps import (
    API_PREFIX,
    Access,
    OrgManager,
    OrgReader,
    ReadingsReader,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
    permit,
)
from central.core.epoch import now_us
from central.core.permissions import Action, Category
from central.crud.org import check_limit_set, check_timezone, update_plant
from central.errors import Conflict
from central.models import (
    LatestList,
    Plant,
    PlantCreate,
    PlantList,
    PlantOverview,
    PlantPublic,
    PlantUpdate,
    Region,
)
from central.queries import latest_values, plant_in_scope, plant_overview, plant_statuses

router = APIRouter(prefix=API_PREFIX + "/plants", tags=["plants"])
log = structlog.get_logger("central.plants")

OverviewReader = Annotated[
    Access, permit((Category.READINGS, Action.READ), (Category.ALARMS, Action.READ))
]


def _public(session: Session, plant: Plant) -> PlantPublic:
    region = session.get(Region, plant.region_id)
    return PlantPublic(
        key=plant.key,
        name=plant.name,
        region=region.key if region else "",
        limit_set=plant.limit_set,
        timezone=plant.timezone,
    )


@router.get("", response_model=PlantList)
def list_plants(
    state: StateDep,
    access: OrgReader,
    session: SessionDep,
    region: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PlantList:
    """Each plant with its region and agents: online, how far behind, how full, devices down."""
    return plant_statuses(
        session,
        access.scope,
        now_us=now_us(),
        stale_after_s=state.settings.agent_stale_after_s,
        region=region,
        limit=page_limit(state, limit),
        offset=offset,
    )


@router.post("", response_model=PlantPublic, status_code=201)
def create_plant(
    state: StateDep, admin: OrgManager, session: WriteSessionDep, plant_in: PlantCreate
) -> PlantPublic:
    """Register a plant in a region (created when new), with its limit set and time zone."""
    existing = session.exec(select(Plant).where(Plant.key == plant_in.key)).first()
    if existing is not None:
        raise Conflict(f"plant {plant_in.key!r} exists already", location=["key"])
    check_limit_set(state.catalog, plant_in.limit_set)
    check_timezone(plant_in.timezone)
    plant = crud.get_or_create_plant(
        session, key=plant_in.key, region=plant_in.region, name=plant_in.name
    )
    plant.limit_set = plant_in.limit_set
    plant.timezone = plant_in.timezone
    session.add(plant)
    session.commit()
    log.info("plant created", plant=plant.key, by=admin.label)
    return _public(session, plant)


@router.get("/{plant}", response_model=PlantPublic)
def get_plant(access: OrgReader, session: SessionDep, plant: str) -> PlantPublic:
    return _public(session, plant_in_scope(session, access.scope, plant))


@router.patch("/{plant}", response_model=PlantPublic)
def patch_plant(
    state: StateDep, admin: OrgManager, session: WriteSessionDep, plant: str, update: PlantUpdate
) -> PlantPublic:
    """Change a plant's name, limit set (``null`` clears it) or time zone."""
    row = plant_in_scope(session, admin.scope, plant)
    update_plant(session, plant=row, update=update, catalog=state.catalog)
    session.commit()
    log.info("plant updated", plant=row.key, by=admin.label, fields=sorted(update.model_fields_set))
    return _public(session, row)


@router.get("/{plant}/latest", response_model=LatestList)
def latest(
    state: StateDep,
    access: ReadingsReader,
    session: SessionDep,
    plant: str,
    area: Annotated[str | None, Query()] = None,
    quantity: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
) -> LatestList:
    """The newest value of every point of the plant (by source time), filtered."""
    row = plant_in_scope(session, access.scope, plant)
    return latest_values(
        session,
        row,
        area=area,
        quantity=quantity,
        limit=page_limit(state, limit),
        now_us=now_us(),
    )


@router.get("/{plant}/overview", response_model=PlantOverview)
def overview(
    state: StateDep,
    access: OverviewReader,
    session: SessionDep,
    plant: str,
    limit: Annotated[int | None, Query()] = None,
) -> PlantOverview:
    """Areas with their points (latest value, unit, quality, time, alarm state) and the plant's
    alarms that still need attention (exposure alarms with ``exposure:R``)."""
    row = plant_in_scope(session, access.scope, plant)
    return plant_overview(
        session,
        row,
        now_us=state.clock.now_us(),
        stale_after_s=state.settings.agent_stale_after_s,
        limit=page_limit(state, limit),
        with_exposure=access.can(Category.EXPOSURE, Action.READ),
    )
