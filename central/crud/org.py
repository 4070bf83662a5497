"""The organisation's configuration: regions, plant settings, classifications, extension fields.

Extension values are validated against the plant's field definitions before they are stored:
an unknown field, a missing required one or a value of the wrong type is refused with 422
naming the field (``values.frost_check_done: expected true or false, got 'yes'``).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sqlmodel import Session, select

from central.core.clock import zone
from central.core.epoch import now_us
from central.errors import Conflict, NotFound, Unprocessable
from central.models import (
    Area,
    Classification,
    ClassificationCreate,
    ExtensionField,
    ExtensionFieldCreate,
    ExtensionRecord,
    FieldType,
    Plant,
    PlantUpdate,
    Point,
    Region,
    TargetKind,
)
from device_profiles import Catalog

from .registry import get_or_create_region


def create_region(session: Session, *, key: str, name: str = "") -> Region:
    if session.exec(select(Region).where(Region.key == key)).first() is not None:
        raise Conflict(f"region {key!r} exists already", location=["key"])
    return get_or_create_region(session, key=key, name=name)


def check_limit_set(catalog: Catalog, set_id: str | None, location: str = "limit_set") -> None:
    if set_id is None:
        return
    try:
        catalog.limit_set(set_id)
    except KeyError as exc:
        raise Unprocessable(str(exc).strip("'\""), location=[location]) from None


def check_timezone(name: str | None, location: str = "timezone") -> None:
    if name is None:
        return
    try:
        zone(name)
    except ValueError as exc:
        raise Unprocessable(str(exc), location=[location]) from None


def update_plant(session: Session, *, plant: Plant, update: PlantUpdate, catalog: Catalog) -> Plant:
    changes = update.model_dump(exclude_unset=True)
    if "limit_set" in changes:
        check_limit_set(catalog, changes["limit_set"])
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    for key, value in changes.items():
        if key == "name" and value is None:
            continue
        setattr(plant, key, value)
    session.add(plant)
    session.flush()
    return plant


def add_classification(
    session: Session, *, scheme: str, entry: ClassificationCreate
) -> Classification:
    exists = session.exec(
        select(Classification).where(
            Classification.scheme == scheme, Classification.key == entry.key
        )
    ).first()
    if exists is not None:
        raise Conflict(f"{scheme} {entry.key!r} exists already", location=["key"])
    row = Classification(
        scheme=scheme,
        key=entry.key,
        label=entry.label or entry.key,
        rank=entry.rank,
        details=entry.details,
        builtin=False,
    )
    session.add(row)
    session.flush()
    return row


def create_extension_field(
    session: Session, *, plant: Plant, field_in: ExtensionFieldCreate
) -> ExtensionField:
    assert plant.id is not None
    if field_in.type == FieldType.CHOICE and not field_in.choices:
        raise Unprocessable("a choice field needs its choices", location=["choices"])
    if field_in.type != FieldType.CHOICE and field_in.choices:
        raise Unprocessable("only a choice field has choices", location=["choices"])
    exists = session.exec(
        select(ExtensionField).where(
            ExtensionField.plant_id == plant.id,
            ExtensionField.applies_to == field_in.applies_to.value,
            ExtensionField.name == field_in.name,
        )
    ).first()
    if exists is not None:
        raise Conflict(
            f"plant {plant.key!r} has a {field_in.applies_to.value} field {field_in.name!r}",
            location=["name"],
        )
    row = ExtensionField(
        plant_id=plant.id,
        name=field_in.name,
        label=field_in.label or field_in.name,
        type=field_in.type.value,
        required=field_in.required,
        applies_to=field_in.applies_to.value,
        choices=list(field_in.choices),
        unit=field_in.unit,
        description=field_in.description,
        created_ts=now_us(),
    )
    session.add(row)
    session.flush()
    return row


def _expect(name: str, value: Any, expectation: str) -> Unprocessable:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return Unprocessable(
        f"values.{name}: expected {expectation}, got {shown}",
        error="invalid_extension_value",
        location=["values", name],
    )


def _checked(f: ExtensionField, value: Any) -> Any:
    kind = FieldType(f.type)
    if kind == FieldType.TEXT:
        if not isinstance(value, str) or len(value) > 2000:
            raise _expect(f.name, value, "text of at most 2000 characters")
        return value
    if kind == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise _expect(f.name, value, "true or false")
        return value
    if kind == FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _expect(f.name, value, "a whole number")
        return value
    if kind == FieldType.NUMBER:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _expect(f.name, value, f"a number{f' in {f.unit}' if f.unit else ''}")
        return float(value)
    if kind == FieldType.DATE:
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise _expect(f.name, value, "a date YYYY-MM-DD") from None
    if value not in f.choices:
        raise _expect(f.name, value, f"one of {', '.join(repr(c) for c in f.choices)}")
    return value


def validate_values(fields: list[ExtensionField], values: dict[str, Any]) -> dict[str, Any]:
    """The values checked against the fields; raises 422 naming the first bad field."""
    by_name = {f.name: f for f in fields}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise Unprocessable(
            f"values.{unknown[0]}: no such extension field (defined: {known})",
            error="invalid_extension_value",
            location=["values", unknown[0]],
        )
    out: dict[str, Any] = {}
    for f in fields:
        value = values.get(f.name)
        if value is None:
            if f.required:
                raise Unprocessable(
                    f"values.{f.name}: required ({f.type}{f' in {f.unit}' if f.unit else ''})",
                    error="invalid_extension_value",
                    location=["values", f.name],
                )
            continue
        out[f.name] = _checked(f, value)
    return out


def put_extension_values(
    session: Session,
    *,
    plant: Plant,
    target_kind: TargetKind,
    target_key: str,
    values: dict[str, Any],
    actor: str,
) -> ExtensionRecord:
    assert plant.id is not None
    if target_kind == TargetKind.PLANT and target_key != plant.key:
        raise NotFound(f"target {target_key!r} is not plant {plant.key!r}", location=["target_key"])
    if target_kind == TargetKind.AREA:
        found = session.exec(
            select(Area).where(Area.plant_id == plant.id, Area.key == target_key)
        ).first()
        if found is None:
            raise NotFound(
                f"no area {target_key!r} in plant {plant.key!r}", location=["target_key"]
            )
    if target_kind == TargetKind.POINT:
        found_point = session.exec(
            select(Point).where(Point.plant_id == plant.id, Point.key == target_key)
        ).first()
        if found_point is None:
            raise NotFound(
                f"no point {target_key!r} in plant {plant.key!r}", location=["target_key"]
            )
    fields = list(
        session.exec(
            select(ExtensionField).where(
                ExtensionField.plant_id == plant.id, ExtensionField.applies_to == target_kind.value
            )
        )
    )
    clean = validate_values(fields, values)
    row = session.exec(
        select(ExtensionRecord).where(
            ExtensionRecord.plant_id == plant.id,
            ExtensionRecord.target_kind == target_kind.value,
            ExtensionRecord.target_key == target_key,
        )
    ).first()
    if row is None:
        row = ExtensionRecord(
            plant_id=plant.id,
            target_kind=target_kind.value,
            target_key=target_key,
            values={},
            updated_ts=0,
            updated_by=actor,
        )
    row.values = clean
    row.updated_ts = now_us()
    row.updated_by = actor
    session.add(row)
    session.flush()
    return row


__all__ = [
    "add_classification",
    "check_limit_set",
    "check_timezone",
    "create_extension_field",
    "create_region",
    "put_extension_values",
    "update_plant",
    "validate_values",
]
