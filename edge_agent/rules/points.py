"""What the rules engine knows about one measured point: ``RulePoint``, built from a resolved point.

Everything here is in the quantity's canonical unit (the unit readings arrive in), so no rule
converts on the hot path. :func:`rule_point` does the one conversion from the profile's device
unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from device_profiles import AlarmDefaults, ResolvedDevice, ResolvedPoint

PointIdStr = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$"
    ),
]


class RulePoint(BaseModel):
    """One point as the rules see it: identity, quantity, canonical unit, limits and upkeep dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point_id: PointIdStr
    quantity: str
    unit: str
    name: str = ""
    device_id: str | None = None
    alarms: AlarmDefaults | None = None
    range: tuple[float, float] | None = None  # measuring range
    resolution: float | None = Field(None, gt=0)
    area: str | None = None
    zone: str | None = None
    device_serial: str | None = None
    calibration_due: date | None = None
    bump_test_due: date | None = None
    # The device's poll interval; None for a report-by-exception source (an OPC UA subscription):
    # its silence means "no change", a value holds until the next one, and a lost connection
    # arrives as bad samples from the driver instead.
    expected_interval_s: float | None = Field(1.0, gt=0)


def rule_point(point_id: str, device: ResolvedDevice, point: ResolvedPoint) -> RulePoint:
    """The ``RulePoint`` of ``point`` (a point of ``device``) whose full id is ``point_id``."""
    factor, offset = point.to_canonical
    entry = device.entry
    rng = None
    if point.range is not None:
        low, high = sorted((point.range[0] * factor + offset, point.range[1] * factor + offset))
        rng = (low, high)
    return RulePoint(
        point_id=point_id,
        quantity=point.quantity,
        unit=point.canonical_unit,
        name=point.name,
        device_id=device.id,
        alarms=point.alarms,  # profiles and plant overrides give limits in the canonical unit
        range=rng,
        resolution=point.resolution * abs(factor) if point.resolution else None,
        area=entry.area,
        zone=entry.zone,
        device_serial=entry.serial,
        calibration_due=entry.calibration_due,
        bump_test_due=entry.bump_test_due,
        expected_interval_s=None
        if reports_by_exception(entry.url, entry.options)
        else entry.poll_interval_s,
    )


def reports_by_exception(url: str, options: Mapping[str, object]) -> bool:
    """OPC UA subscriptions send a value only when it changes (by more than its deadband)."""
    return urlsplit(url).scheme.lower() == "opc.tcp" and options.get("mode") != "poll"


def rule_points(points: Iterable[tuple[str, ResolvedDevice, ResolvedPoint]]) -> list[RulePoint]:
    """``RulePoint`` for each ``(point id, device, point)``, e.g. of ``ResolvedPlant.points()``."""
    return [rule_point(point_id, device, point) for point_id, device, point in points]
