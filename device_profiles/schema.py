"""The device profile schema: what a device model exposes and how to read it.

A profile is YAML (see ``profiles/``), validated by these models. One profile describes one
device *model*; a plant config names devices *instances* (``DeviceEntry``) that refer to a
profile by id and may override limits and scaling per point.
"""

from __future__ import annotations

import enum
import itertools
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from protocols.errors import ConfigError
from protocols.modbus.points import DataType, ModbusPoint, Table, WordOrder
from protocols.mqtt.points import PayloadFormat
from protocols.opcua.points import DeadbandType

from .field_errors import MISSING, FieldValueError, Location, RelativeProblem
from .quantities import QUANTITIES, UnitError, conversion
from .signals import SignalSpec

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Protocol(enum.StrEnum):
    MODBUS = "modbus"
    OPCUA = "opcua"
    MQTT = "mqtt"


class AlarmPriority(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ModbusAddress(_Model):
    table: Table = Table.HOLDING
    address: int = Field(ge=0, le=0xFFFF)
    type: str = "uint16"
    order: WordOrder | None = None  # None: the profile's modbus.byte_order
    bit: int | None = Field(None, ge=0, le=15)
    length: int = Field(0, ge=0, le=125)
    scale: float = 1.0
    offset: float = 0.0

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        DataType.parse(value)  # raises with the list of known types
        return value.lower()

    @model_validator(mode="after")
    def _decodable(self) -> ModbusAddress:
        # The driver's own point spec checks table/type/bit/length; run it at load time so a
        # profile that could never be read fails when it is written, not when a plant polls it.
        try:
            ModbusPoint(
                key="address",
                table=self.table,
                address=self.address,
                dtype=DataType.parse(self.type),
                bit=self.bit,
                length=self.length,
                scale=self.scale,
                offset=self.offset,
            )
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("Modbus point 'address': ")) from exc
        return self

    @property
    def width(self) -> int:
        """Registers (or bits, in a bit table) the value occupies; a register bit counts as 1."""
        dtype = DataType.parse(self.type)
        if self.table.is_bit_table or self.bit is not None:
            return 1
        return self.length if dtype is DataType.STRING else dtype.registers


class OpcUaDataType(enum.StrEnum):
    """The built-in type a device serves a variable as (OPC UA Part 6 §5.1.2)."""

    BOOLEAN = "Boolean"
    INT16 = "Int16"
    UINT16 = "UInt16"
    INT32 = "Int32"
    UINT32 = "UInt32"
    FLOAT = "Float"
    DOUBLE = "Double"


class OpcUaAddress(_Model):
    node_id: str = Field(min_length=3)  # may contain {device}
    data_type: OpcUaDataType = OpcUaDataType.DOUBLE
    """How the device serves the value; the simulator serves it so. The driver reads any of
    them (a Boolean as a flag, the rest as numbers) and writes in the node's own type."""
    sampling_interval_ms: float = Field(1000.0, ge=0)
    deadband_type: DeadbandType = DeadbandType.NONE
    deadband: float = Field(0.0, ge=0)
    scale: float = 1.0
    offset: float = 0.0


class MqttAddress(_Model):
    topic: str = Field(min_length=1)  # may contain {device}
    payload: PayloadFormat = PayloadFormat.JSON
    field: str | None = None
    timestamp_field: str | None = None
    qos: int = Field(1, ge=0, le=2)
    scale: float = 1.0
    offset: float = 0.0


class CurrentLoop(_Model):
    """The point's raw value is a 4-20 mA loop current, mapped linearly onto ``range``.

    Fault thresholds default to NAMUR NE 43 (hse-standards.md §8.2 [Q7]): at or below 3.6 mA is a
    low failure (wire break), at or above 21.0 mA a high failure; 3.8-20.5 mA is valid.
    """

    low_ma: float = 4.0
    high_ma: float = 20.0
    fault_low_ma: float = 3.6  # NAMUR NE 43 [Q7]
    fault_high_ma: float = 21.0  # NAMUR NE 43 [Q7]
    valid_low_ma: float = 3.8  # NAMUR NE 43 [Q7]
    valid_high_ma: float = 20.5  # NAMUR NE 43 [Q7]
    fault_persist_s: float = Field(4.0, ge=0)  # NE 43 practice, 4 s [Q7]

    @model_validator(mode="after")
    def _ordered(self) -> CurrentLoop:
        bands = [
            self.fault_low_ma,
            self.valid_low_ma,
            self.low_ma,
            self.high_ma,
            self.valid_high_ma,
            self.fault_high_ma,
        ]
        if bands != sorted(bands) or self.low_ma == self.high_ma:
            raise ValueError(
                "loop currents must satisfy fault_low <= valid_low <= low < high <= valid_high "
                f"<= fault_high, got {bands}"
            )
        return self


class Limit(_Model):
    """One alarm limit with its priority and the standard it comes from."""

    value: float
    priority: AlarmPriority = AlarmPriority.HIGH
    source: str = ""  # e.g. "GB/T 50493-2019 §5.5.2: level 1 <= 25 %LEL"
    latch: bool = False


class AlarmDefaults(_Model):
    """Default limit alarms of a point, in the point's canonical unit."""

    hh: Limit | None = None
    h: Limit | None = None
    l: Limit | None = None  # noqa: E741  (ISA-18.2 calls it L)
    ll: Limit | None = None
    roc_per_s: Limit | None = None
    deadband: float = Field(0.0, ge=0)
    on_delay_s: float = Field(0.0, ge=0)
    off_delay_s: float = Field(0.0, ge=0)
    source: str = ""

    @model_validator(mode="after")
    def _ladder(self) -> AlarmDefaults:
        present = self.ladder()
        for (n1, v1), (n2, v2) in itertools.pairwise(present):
            if v1 >= v2:
                raise FieldValueError.at(
                    (n2, "value"), v2, f"limit {n2} must be above {n1}={v1} (order LL < L < H < HH)"
                )
        for (n1, v1), (n2, v2) in itertools.pairwise(present):
            if self.deadband and self.deadband >= v2 - v1:
                raise FieldValueError.at(
                    ("deadband",),
                    self.deadband,
                    f"deadband must be smaller than the gap between {n1}={v1} and {n2}={v2}",
                )
        return self

    def ladder(self) -> list[tuple[str, float]]:
        """The limits that are set, as (name, value) from LL up to HH."""
        named = [(n, getattr(self, n)) for n in ("ll", "l", "h", "hh")]
        return [(n, lim.value) for n, lim in named if lim is not None]


class PointProfile(_Model):
    id: Ident
    name: str = ""
    quantity: str
    unit: str  # unit of the value after scaling (and after the current loop mapping)
    range: tuple[float, float] | None = None  # measuring range, in ``unit``
    resolution: float | None = Field(None, gt=0)
    modbus: ModbusAddress | None = None
    opcua: OpcUaAddress | None = None
    mqtt: MqttAddress | None = None
    loop: CurrentLoop | None = None
    alarms: AlarmDefaults | None = None
    simulate: SignalSpec | None = None

    @field_validator("quantity")
    @classmethod
    def _known_quantity(cls, value: str) -> str:
        if value not in QUANTITIES:
            raise ValueError(f"unknown quantity {value!r}; known: {', '.join(sorted(QUANTITIES))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PointProfile:
        try:
            conversion(self.unit, QUANTITIES[self.quantity].unit)
        except UnitError as exc:
            raise FieldValueError.at(
                ("unit",),
                self.unit,
                f"cannot be converted to {self.quantity}'s canonical unit "
                f"{QUANTITIES[self.quantity].unit!r}",
            ) from exc
        if self.range is not None and self.range[0] >= self.range[1]:
            raise FieldValueError.at(
                ("range",), list(self.range), "must be [low, high] with low < high"
            )
        if self.loop is not None and self.range is None:
            raise FieldValueError.at(
                ("range",),
                MISSING,
                "a current-loop point needs 'range' (engineering values at 4 and 20 mA)",
            )
        self._limits_in_range()
        return self

    def canonical_range(self) -> tuple[float, float] | None:
        """The measuring range in the quantity's canonical unit (alarm limits are in it)."""
        if self.range is None:
            return None
        factor, offset = conversion(self.unit, QUANTITIES[self.quantity].unit)
        ends = sorted(v * factor + offset for v in self.range)
        return ends[0], ends[1]

    def _limits_in_range(self) -> None:
        # A limit outside the measuring range can never be reached: the alarm would never fire.
        rng = self.canonical_range()
        if rng is None or self.alarms is None:
            return
        lo, hi = rng
        tolerance = 1e-9 * max(abs(lo), abs(hi), 1.0)
        problems = [
            RelativeProblem(
                ("alarms", name, "value"),
                value,
                f"limit lies outside the measuring range [{lo:g}, {hi:g}] "
                f"{QUANTITIES[self.quantity].unit}",
            )
            for name, value in self.alarms.ladder()
            if not lo - tolerance <= value <= hi + tolerance
        ]
        if problems:
            raise FieldValueError(problems)


class ModbusDefaults(_Model):
    byte_order: WordOrder = WordOrder.ABCD
    unit_id: int = Field(1, ge=0, le=255)
    max_block_registers: int = Field(125, ge=1, le=125)  # Modbus limit: 125 registers a read
    max_block_bits: int = Field(2000, ge=1, le=2000)  # Modbus limit: 2000 bits a read
    max_gap: int = Field(10, ge=0, le=124)
    forbidden_ranges: list[tuple[Table, int, int]] = Field(default_factory=list)


class DeviceProfile(_Model):
    schema_version: Literal[1] = 1
    id: Ident
    manufacturer: str
    model: str
    kind: str  # gas_detector, gas_controller, pressure_transmitter, noise_monitor, ...
    protocol: Protocol
    description: str = ""
    modbus: ModbusDefaults | None = None
    points: list[PointProfile] = Field(min_length=1)

    @model_validator(mode="after")
    def _addresses(self) -> DeviceProfile:
        problems: list[RelativeProblem] = []
        seen: dict[str, int] = {}
        for i, p in enumerate(self.points):
            if p.id in seen:
                problems.append(
                    RelativeProblem(
                        ("points", i, "id"), p.id, f"duplicate point id (also points[{seen[p.id]}])"
                    )
                )
            seen.setdefault(p.id, i)
        attr = self.protocol.value
        problems += [
            RelativeProblem(
                ("points", i, attr),
                MISSING,
                f"point {p.id!r} has no {attr} address, which a {attr} profile needs",
            )
            for i, p in enumerate(self.points)
            if getattr(p, attr) is None
        ]
        if not problems:
            problems += _clashes(self)
        if problems:
            raise FieldValueError(problems)
        return self

    def point(self, point_id: str) -> PointProfile:
        for p in self.points:
            if p.id == point_id:
                return p
        raise KeyError(
            f"profile {self.id!r} has no point {point_id!r}; points: {[p.id for p in self.points]}"
        )


def _clashes(profile: DeviceProfile) -> list[RelativeProblem]:
    """Points that would read the same place: overlapping registers, a node id or topic field twice."""
    problems: list[RelativeProblem] = []
    taken: dict[tuple[object, ...], int] = {}
    for i, p in enumerate(profile.points):
        keys: list[tuple[object, ...]]
        if profile.protocol is Protocol.MODBUS:
            a = p.modbus
            assert a is not None
            if a.bit is not None:  # a register bit may share its register with the word itself
                keys = [("bit", a.table, a.address, a.bit)]
                path: Location = ("points", i, "modbus", "bit")
            else:
                keys = [("word", a.table, r) for r in range(a.address, a.address + a.width)]
                path = ("points", i, "modbus", "address")
            value: object = a.bit if a.bit is not None else a.address
        elif profile.protocol is Protocol.OPCUA:
            assert p.opcua is not None
            keys, path, value = (
                [("node", p.opcua.node_id)],
                ("points", i, "opcua", "node_id"),
                p.opcua.node_id,
            )
        else:
            assert p.mqtt is not None
            keys = [("topic", p.mqtt.topic, p.mqtt.field)]
            path, value = ("points", i, "mqtt", "field"), p.mqtt.field
        clash = next((taken[k] for k in keys if k in taken), None)
        if clash is not None:
            problems.append(
                RelativeProblem(
                    path, value, f"point {p.id!r} overlaps point {profile.points[clash].id!r}"
                )
            )
        for k in keys:
            taken.setdefault(k, i)
    return problems


class PointOverride(_Model):
    """What a plant may change per point: limits, scaling, range, or disable it."""

    enabled: bool = True
    scale: float | None = None
    offset: float | None = None
    range: tuple[float, float] | None = None
    alarms: AlarmDefaults | None = None
    name: str | None = None


class DeviceEntry(_Model):
    """A device instance in a plant: which profile, where it is, how to reach it."""

    id: Ident
    profile: str
    url: str
    unit_id: int | None = Field(None, ge=0, le=255)
    area: Ident | None = None
    zone: Ident | None = None
    poll_interval_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(0.5, gt=0)
    connect_timeout_s: float = Field(3.0, gt=0)
    serial: str | None = None
    installed: date | None = None
    calibration_due: date | None = None
    bump_test_due: date | None = None
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    points: dict[str, PointOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _timeout_fits(self) -> DeviceEntry:
        if self.timeout_s >= self.poll_interval_s:
            raise FieldValueError.at(
                ("timeout_s",),
                self.timeout_s,
                f"device {self.id!r}: timeout_s={self.timeout_s} must be shorter than its "
                f"poll_interval_s={self.poll_interval_s}",
            )
        return self
