"""What part of the org tree a user may see: the whole fleet, one region or one plant.

Every read query filters by :class:`Scope`; something outside it answers 404, as if it did not
exist, so a scoped user cannot probe for other plants' names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, true
from sqlmodel import Session, col, select

from central.errors import NotFound
from central.models import Plant, Point, Region, ScopeKind


@dataclass(frozen=True, slots=True)
class Scope:
    plant_ids: frozenset[int] | None
    """None: every plant."""

    def allows(self, plant_id: int) -> bool:
        return self.plant_ids is None or plant_id in self.plant_ids

    def filter(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping rows whose ``column`` (a plant id) is in scope."""
        if self.plant_ids is None:
            return true()
        return col(column).in_(sorted(self.plant_ids))


class Scoped(Protocol):
    """A user or an API token: anything with an org scope."""

    @property
    def scope_kind(self) -> str: ...
    @property
    def scope_key(self) -> str | None: ...


def scope_for(session: Session, user: Scoped) -> Scope:
    kind = ScopeKind(user.scope_kind)
    if kind == ScopeKind.FLEET:
        return Scope(None)
    if kind == ScopeKind.REGION:
        ids = session.exec(
            select(Plant.id)
            .join(Region, col(Region.id) == Plant.region_id)
            .where(Region.key == user.scope_key)
        ).all()
    else:
        ids = session.exec(select(Plant.id).where(Plant.key == user.scope_key)).all()
    return Scope(frozenset(i for i in ids if i is not None))


def plant_in_scope(session: Session, scope: Scope, key: str) -> Plant:
    plant = session.exec(select(Plant).where(Plant.key == key)).first()
    if plant is None or plant.id is None or not scope.allows(plant.id):
        raise NotFound(f"no plant {key!r} in your scope", location=["plant"])
    return plant


def point_in_scope(session: Session, scope: Scope, key: str) -> Point:
    point = session.exec(select(Point).where(Point.key == key)).first()
    if point is None or not scope.allows(point.plant_id):
        raise NotFound(f"no point {key!r} in your scope", location=["point"])
    return point
