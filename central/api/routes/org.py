"""``/api/v1/org``, ``/api/v1/regions``, ``/api/v1/classifications``: the org tree in the
caller's scope, regions, and the fleet's shared classifications."""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from sqlmodel import col, select

from central.api.deps import (
    API_PREFIX,
    OrgManager,
    OrgReader,
    SessionDep,
    StateDep,
    WriteSessionDep,
)
from central.crud import org as org_crud
from central.errors import Unprocessable
from central.models import (
    Classification,
    ClassificationCreate,
    ClassificationPublic,
    Classifications,
    OrgTree,
    RegionCreate,
    RegionPublic,
)
from central.queries import org_tree

router = APIRouter(prefix=API_PREFIX, tags=["org"])
log = structlog.get_logger("central.org")

CODE_SCHEMES = {"quantity": "device_profiles.QUANTITIES", "priority": "protocols.sync.Priority"}
"""Schemes the code defines; the others (``hazard`` and new ones) are data an admin extends."""


@router.get("/org", response_model=OrgTree)
def org(state: StateDep, access: OrgReader, session: SessionDep) -> OrgTree:
    """HQ -> region -> plant -> area, within the caller's scope, with counts."""
    return org_tree(
        session,
        access.scope,
        max_plants=state.settings.max_query_limit,
        name=state.settings.org_name,
    )


@router.post("/regions", response_model=RegionPublic, status_code=201)
def create_region(
    admin: OrgManager, session: WriteSessionDep, region_in: RegionCreate
) -> RegionPublic:
    region = org_crud.create_region(session, key=region_in.key, name=region_in.name)
    session.commit()
    log.info("region created", region=region.key, by=admin.label)
    return RegionPublic(key=region.key, name=region.name)


def _public(row: Classification) -> ClassificationPublic:
    return ClassificationPublic(
        scheme=row.scheme,
        key=row.key,
        label=row.label,
        rank=row.rank,
        details=row.details or {},
        builtin=row.builtin,
    )


@router.get("/classifications", response_model=Classifications)
def classifications(_access: OrgReader, session: SessionDep) -> Classifications:
    """Quantities (with unit and hazard), alarm priorities (by rank) and hazard categories."""
    rows = session.exec(
        select(Classification).order_by(
            col(Classification.scheme), col(Classification.rank).desc(), col(Classification.key)
        )
    ).all()
    by: dict[str, list[ClassificationPublic]] = {}
    for row in rows:
        by.setdefault(row.scheme, []).append(_public(row))
    return Classifications(
        quantities=by.pop("quantity", []),
        priorities=by.pop("priority", []),
        hazards=by.pop("hazard", []),
        other=[e for entries in by.values() for e in entries],
    )


@router.post("/classifications/{scheme}", response_model=ClassificationPublic, status_code=201)
def add_classification(
    admin: OrgManager, session: WriteSessionDep, scheme: str, entry: ClassificationCreate
) -> ClassificationPublic:
    """Add an entry to a data-defined scheme (``hazard``, or a new one)."""
    if scheme in CODE_SCHEMES:
        raise Unprocessable(
            f"scheme {scheme!r} is defined by the code ({CODE_SCHEMES[scheme]}), not by data",
            location=["path", "scheme"],
        )
    if not scheme.replace("_", "").isalnum() or len(scheme) > 32:
        raise Unprocessable(
            f"scheme {scheme!r}: letters, digits and _ only, at most 32",
            location=["path", "scheme"],
        )
    row = org_crud.add_classification(session, scheme=scheme, entry=entry)
    session.commit()
    log.info("classification added", scheme=scheme, key=row.key, by=admin.label)
    return _public(row)
