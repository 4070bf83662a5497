"""``/api/v1/plants``: fleet status per plant, registering plants, latest values of a plant."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from sqlmodel import select

from central import crud
from central.api.deps import (
    API_PREFIX,
    AdminUser,
    SessionDep,
    StateDep,
    UserScope,
    WriteSessionDep,
    page_limit,
)
from central.core.epoch import now_us
from central.errors import Conflict
from central.models import LatestList, Plant, PlantCreate, PlantList, PlantPublic, Region
from central.queries import latest_values, plant_in_scope, plant_statuses

router = APIRouter(prefix=API_PREFIX + "/plants", tags=["plants"])
log = structlog.get_logger("central.plants")


@router.get("", response_model=PlantList)
def list_plants(
    state: StateDep,
    scope: UserScope,
    session: SessionDep,
    region: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PlantList:
    """Each plant with its region and agents: online, how far behind, how full, devices down."""
    return plant_statuses(
        session,
        scope,
        now_us=now_us(),
        stale_after_s=state.settings.agent_stale_after_s,
        region=region,
        limit=page_limit(state, limit),
        offset=offset,
    )


@router.post("", response_model=PlantPublic, status_code=201)
def create_plant(admin: AdminUser, session: WriteSessionDep, plant_in: PlantCreate) -> PlantPublic:
    existing = session.exec(select(Plant).where(Plant.key == plant_in.key)).first()
    if existing is not None:
        raise Conflict(f"plant {plant_in.key!r} exists already", location=["key"])
    plant = crud.get_or_create_plant(
        session, key=plant_in.key, region=plant_in.region, name=plant_in.name
    )
    session.commit()
    log.info("plant created", plant=plant.key, by_user_id=admin.id)
    region = session.get(Region, plant.region_id)
    return PlantPublic(key=plant.key, name=plant.name, region=region.key if region else "")


@router.get("/{plant}/latest", response_model=LatestList)
def latest(
    state: StateDep,
    scope: UserScope,
    session: SessionDep,
    plant: str,
    area: Annotated[str | None, Query()] = None,
    quantity: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
) -> LatestList:
    """The newest value of every point of the plant (by source time), filtered."""
    row = plant_in_scope(session, scope, plant)
    return latest_values(
        session,
        row,
        area=area,
        quantity=quantity,
        limit=page_limit(state, limit),
        now_us=now_us(),
    )
