"""The organisation tree: HQ (the fleet) -> region -> plant -> area, and a plant's devices and
points.

Regions and plants come from admin calls (or appear when an agent is registered); areas, devices
and points are registered from the ``points`` metadata agents send
(:class:`protocols.sync.PointInfo`), or created bare from the first reading of an unknown point.
A point carries a small integer id that the reading tables use instead of the string key. A
plant names the exposure limit set it is held to and its time zone (local days for the
compliance ledger, office hours for the export guard).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from protocols.sync import Ident

from ._types import Json, Micros


class RegionBase(SQLModel):
    key: str = Field(max_length=100, unique=True, index=True)
    name: str = Field(default="", max_length=200)


class Region(RegionBase, table=True):
    __tablename__ = "region"

    id: int | None = Field(default=None, primary_key=True)
    created_ts: int = Field(sa_type=Micros)


class RegionCreate(SQLModel):
    key: Ident
    name: str = Field(default="", max_length=200)


class RegionPublic(RegionBase):
    pass


class PlantBase(SQLModel):
    key: str = Field(max_length=100, unique=True, index=True)
    name: str = Field(default="", max_length=200)


class PlantCreate(SQLModel):
    """What an admin sends to register a plant (the region is created when new)."""

    key: Ident
    name: str = Field(default="", max_length=200)
    region: Ident = "default"
    limit_set: str | None = Field(default=None, max_length=100)
    """Id of the exposure limit set (``device_profiles/limit_sets``) the plant is held to."""
    timezone: str | None = Field(default=None, max_length=64)
    """IANA time zone (``Asia/Shanghai``); None: the server's (setting ``timezone``)."""


class PlantUpdate(SQLModel):
    """Fields an admin may change on a plant; those left out stay as they are."""

    name: str | None = Field(default=None, max_length=200)
    limit_set: str | None = Field(default=None, max_length=100)
    timezone: str | None = Field(default=None, max_length=64)


class Plant(PlantBase, table=True):
    __tablename__ = "plant"

    id: int | None = Field(default=None, primary_key=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    created_ts: int = Field(sa_type=Micros)
    limit_set: str | None = Field(default=None, max_length=100)
    timezone: str | None = Field(default=None, max_length=64)


class PlantPublic(PlantBase):
    region: str
    limit_set: str | None = None
    timezone: str | None = None


class Area(SQLModel, table=True):
    __tablename__ = "area"
    __table_args__ = (UniqueConstraint("plant_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    plant_id: int = Field(foreign_key="plant.id")
    key: str = Field(max_length=100)
    name: str = Field(default="", max_length=200)


class Device(SQLModel, table=True):
    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("plant_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    plant_id: int = Field(foreign_key="plant.id")
    key: str = Field(max_length=100)
    area_id: int | None = Field(default=None, foreign_key="area.id")
    profile: str = Field(default="", max_length=200)
    serial: str | None = Field(default=None, max_length=200)
    calibration_due_ts: int | None = Field(default=None, sa_type=Micros)


class Point(SQLModel, table=True):
    """A measured point, ``plant/device/point``; ``id`` is what reading rows carry."""

    __tablename__ = "point"
    __table_args__ = (
        Index("ix_point_plant_area", "plant_id", "area_id"),
        Index("ix_point_plant_quantity", "plant_id", "quantity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    plant_id: int = Field(foreign_key="plant.id")
    device_id: int = Field(foreign_key="device.id")
    area_id: int | None = Field(default=None, foreign_key="area.id")
    zone: str | None = Field(default=None, max_length=100)
    name: str = Field(default="", max_length=200)
    quantity: str = Field(max_length=64)
    unit: str = Field(max_length=16)
    profile: str = Field(default="", max_length=200)
    range_low: float | None = None
    range_high: float | None = None
    limits: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    poll_interval_s: float | None = None
    """How often the agent polls the point (from ``PointInfo``); None: the setting
    ``expected_poll_interval_s`` stands in for data completeness."""
    registered: bool = Field(default=False)
    """True once the agent sent PointInfo for it; False for a point known only from readings."""
    measured: bool = Field(default=True)
    """False for a PLC point the agent writes and does not poll (``PointInfo.measured``): left
    out of data completeness and availability."""
    created_ts: int = Field(sa_type=Micros)
    updated_ts: int = Field(sa_type=Micros)
