"""``/api/v1/plants/{plant}/extension-fields`` and ``/extensions``: what a plant records beyond
the common schema (typhoon measures, winter frost checks), defined by the plant, validated."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from central.api.deps import API_PREFIX, Access, OrgReader, SessionDep, WriteSessionDep, permit
from central.core.epoch import iso
from central.core.permissions import Action, Category
from central.crud import org as org_crud
from central.models import (
    ExtensionField,
    ExtensionFieldCreate,
    ExtensionFieldPublic,
    ExtensionRecord,
    ExtensionRecordPublic,
    ExtensionValuesIn,
    Plant,
    PlantExtensions,
    TargetKind,
)
from central.queries import plant_in_scope

router = APIRouter(prefix=API_PREFIX + "/plants", tags=["extensions"])
log = structlog.get_logger("central.extensions")

ComplianceReader = Annotated[Access, permit((Category.COMPLIANCE, Action.READ))]
ComplianceActor = Annotated[Access, permit((Category.COMPLIANCE, Action.ACT))]
ComplianceManager = Annotated[Access, permit((Category.COMPLIANCE, Action.MANAGE))]


def _field(plant: Plant, f: ExtensionField) -> ExtensionFieldPublic:
    return ExtensionFieldPublic(
        plant=plant.key,
        name=f.name,
        label=f.label,
        type=f.type,
        required=f.required,
        applies_to=f.applies_to,
        choices=list(f.choices or []),
        unit=f.unit,
        description=f.description,
    )


def _record(plant: Plant, r: ExtensionRecord) -> ExtensionRecordPublic:
    return ExtensionRecordPublic(
        plant=plant.key,
        target_kind=r.target_kind,
        target_key=r.target_key,
        values=r.values or {},
        updated_at=iso(r.updated_ts) or "",
        updated_by=r.updated_by,
    )


def _fields(session: Session, plant: Plant) -> list[ExtensionFieldPublic]:
    rows = session.exec(
        select(ExtensionField)
        .where(ExtensionField.plant_id == plant.id)
        .order_by(col(ExtensionField.applies_to), col(ExtensionField.name))
    ).all()
    return [_field(plant, f) for f in rows]


@router.get("/{plant}/extension-fields", response_model=list[ExtensionFieldPublic])
def list_fields(access: OrgReader, session: SessionDep, plant: str) -> list[ExtensionFieldPublic]:
    return _fields(session, plant_in_scope(session, access.scope, plant))


@router.post("/{plant}/extension-fields", response_model=ExtensionFieldPublic, status_code=201)
def create_field(
    access: ComplianceManager, session: WriteSessionDep, plant: str, field_in: ExtensionFieldCreate
) -> ExtensionFieldPublic:
    """Define a field the plant records (name, type, required, what it applies to)."""
    row = plant_in_scope(session, access.scope, plant)
    f = org_crud.create_extension_field(session, plant=row, field_in=field_in)
    session.commit()
    log.info("extension field created", plant=row.key, field=f.name, by=access.label)
    return _field(row, f)


@router.get("/{plant}/extensions", response_model=PlantExtensions)
def list_extensions(
    access: ComplianceReader,
    session: SessionDep,
    plant: str,
    target_kind: Annotated[TargetKind | None, Query()] = None,
) -> PlantExtensions:
    row = plant_in_scope(session, access.scope, plant)
    stmt = select(ExtensionRecord).where(ExtensionRecord.plant_id == row.id)
    if target_kind is not None:
        stmt = stmt.where(ExtensionRecord.target_kind == target_kind.value)
    records = session.exec(
        stmt.order_by(col(ExtensionRecord.target_kind), col(ExtensionRecord.target_key))
    ).all()
    return PlantExtensions(
        plant=row.key, fields=_fields(session, row), records=[_record(row, r) for r in records]
    )


@router.put(
    "/{plant}/extensions/{target_kind}/{target_key:path}", response_model=ExtensionRecordPublic
)
def put_extensions(
    access: ComplianceActor,
    session: WriteSessionDep,
    plant: str,
    target_kind: TargetKind,
    target_key: str,
    body: ExtensionValuesIn,
) -> ExtensionRecordPublic:
    """Set the extension values of the plant, an area or a point; 422 names a bad field."""
    row = plant_in_scope(session, access.scope, plant)
    record = org_crud.put_extension_values(
        session,
        plant=row,
        target_kind=target_kind,
        target_key=target_key,
        values=body.values,
        actor=access.label,
    )
    session.commit()
    log.info("extension values set", plant=row.key, target=target_kind.value, by=access.label)
    return _record(row, record)
