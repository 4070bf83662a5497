"""Turn a device instance (``DeviceEntry``) and its profile into driver point specs.

This is the one place that knows both a profile's layout and the drivers' point specs, so the
agent, the simulators and ``hse-edge probe`` all read a device the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocols.driver import PointSpec
from protocols.modbus.points import DataType, ModbusPoint
from protocols.mqtt.points import MqttPoint
from protocols.opcua.points import OpcUaPoint

from .quantities import QUANTITIES, conversion
from .schema import AlarmDefaults, CurrentLoop, DeviceEntry, DeviceProfile, PointProfile, Protocol


@dataclass(frozen=True)
class ResolvedPoint:
    """One point of one device instance, with everything needed to read and normalize it."""

    device_id: str
    point_id: str
    name: str
    quantity: str
    unit: str  # unit of the driver's value (after driver scaling / loop mapping)
    canonical_unit: str
    to_canonical: tuple[float, float]  # (factor, offset): canonical = value * factor + offset
    range: tuple[float, float] | None  # in ``unit``
    resolution: float | None
    loop: CurrentLoop | None
    alarms: AlarmDefaults | None
    spec: PointSpec
    profile_point: PointProfile

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True)
class ResolvedDevice:
    entry: DeviceEntry
    profile: DeviceProfile
    points: list[ResolvedPoint]
    driver_options: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.entry.id

    def point(self, point_id: str) -> ResolvedPoint:
        for p in self.points:
            if p.point_id == point_id:
                return p
        raise KeyError(f"device {self.id!r} has no point {point_id!r}")


def _fill(template: str, entry: DeviceEntry) -> str:
    return template.replace("{device}", entry.id)


def driver_spec(profile: DeviceProfile, point: PointProfile, entry: DeviceEntry) -> PointSpec:
    """The driver's point spec for ``point`` of ``entry``, with the plant's overrides applied."""
    override = entry.points.get(point.id)
    if profile.protocol is Protocol.MODBUS:
        addr = point.modbus
        assert addr is not None  # the profile validator guarantees it
        defaults = profile.modbus
        order = addr.order or (defaults.byte_order if defaults else None)
        unit_id = (
            entry.unit_id if entry.unit_id is not None else (defaults.unit_id if defaults else 1)
        )
        kwargs: dict[str, Any] = {}
        if order is not None:
            kwargs["order"] = order
        return ModbusPoint(
            key=point.id,
            unit_id=unit_id,
            table=addr.table,
            address=addr.address,
            dtype=DataType.parse(addr.type),
            bit=addr.bit,
            length=addr.length,
            scale=override.scale if override and override.scale is not None else addr.scale,
            offset=override.offset if override and override.offset is not None else addr.offset,
            **kwargs,
        )
    if profile.protocol is Protocol.OPCUA:
        ua = point.opcua
        assert ua is not None
        return OpcUaPoint(
            key=point.id,
            node_id=_fill(ua.node_id, entry),
            sampling_interval_ms=ua.sampling_interval_ms,
            deadband_type=ua.deadband_type,
            deadband=ua.deadband,
            scale=override.scale if override and override.scale is not None else ua.scale,
            offset=override.offset if override and override.offset is not None else ua.offset,
        )
    mq = point.mqtt
    assert mq is not None
    return MqttPoint(
        key=point.id,
        topic=_fill(mq.topic, entry),
        payload=mq.payload,
        field=mq.field,
        timestamp_field=mq.timestamp_field,
        qos=mq.qos,
        scale=override.scale if override and override.scale is not None else mq.scale,
        offset=override.offset if override and override.offset is not None else mq.offset,
    )


def resolve_device(entry: DeviceEntry, profile: DeviceProfile) -> ResolvedDevice:
    """Resolve every enabled point; raises ``KeyError`` for an override of an unknown point."""
    known = {p.id for p in profile.points}
    unknown = sorted(set(entry.points) - known)
    if unknown:
        raise KeyError(
            f"device {entry.id!r}: overrides name points {unknown} that profile {profile.id!r} "
            f"does not have; its points: {sorted(known)}"
        )
    points = []
    for p in profile.points:
        override = entry.points.get(p.id)
        if override is not None and not override.enabled:
            continue
        canonical = QUANTITIES[p.quantity].unit
        points.append(
            ResolvedPoint(
                device_id=entry.id,
                point_id=p.id,
                name=(override.name if override and override.name else p.name) or p.id,
                quantity=p.quantity,
                unit=p.unit,
                canonical_unit=canonical,
                to_canonical=conversion(p.unit, canonical),
                range=override.range if override and override.range else p.range,
                resolution=p.resolution,
                loop=p.loop,
                alarms=override.alarms if override and override.alarms else p.alarms,
                spec=driver_spec(profile, p, entry),
                profile_point=p,
            )
        )
    options: dict[str, Any] = {}
    if profile.protocol is Protocol.MODBUS and profile.modbus is not None:
        m = profile.modbus
        options = {
            "max_block_registers": m.max_block_registers,
            "max_block_bits": m.max_block_bits,
            "max_gap": m.max_gap,
            "forbidden_ranges": [(t.value, lo, hi) for t, lo, hi in m.forbidden_ranges],
        }
    options.update(entry.options)
    return ResolvedDevice(entry=entry, profile=profile, points=points, driver_options=options)
