"""What a simulated Modbus unit answers: the contract a unit offers the server, and the unit
built from a device profile.

A unit answers a read in two steps: ``check_read(table, address, count)`` says whether the
request is acceptable (``None``) or which exception code it gets, ``values(table, address,
count)`` returns the registers (ints) or bits (bools) at the moment of the request, for any
range. ``write(table, address, values)`` stores and answers ``None`` or an exception code. A unit
that is off line raises :class:`NoAnswer` from ``check_read`` and ``write``: the server then
stays silent, so the client times out, which is what an unpowered device on an RS-485 bus or
behind a gateway does.

:class:`ProfileUnit` serves a ``SimDevice``'s profile: every point at its address in its table,
encoded with the profile's type and word order from ``SimDevice.wire_value`` at the moment of the
request. Addresses between the profile's points read as 0; outside the span of a table's points,
inside a ``modbus.forbidden_ranges`` entry, or for a longer read than ``modbus.max_block_*``, the
unit answers exception 02 (illegal data address) or 03 (illegal data value) as a real device
would. Writes to coils and holding registers are stored and read back (they override the
signal at those addresses).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import struct
from collections.abc import Callable
from typing import Protocol

from device_profiles.resolve import driver_spec
from protocols.modbus import DataType, ModbusPoint, Table, WordOrder, encode
from protocols.modbus.codec import type_range
from protocols.modbus.planner import MAX_READ_BITS, MAX_READ_REGISTERS
from simulators.device import SimDevice

__all__ = [
    "ILLEGAL_ADDRESS",
    "ILLEGAL_FUNCTION",
    "ILLEGAL_VALUE",
    "SERVER_DEVICE_FAILURE",
    "ModbusUnit",
    "NoAnswer",
    "ProfileUnit",
    "raw_registers",
    "wire_encoder",
]

# Modbus Application Protocol V1.1b3 §7: exception codes.
ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
SERVER_DEVICE_FAILURE = 4

Items = list[int] | list[bool]


class NoAnswer(Exception):
    """The unit is off line: the request gets no response at all."""


class ModbusUnit(Protocol):
    """One unit id on a simulated bus or port."""

    @property
    def unit_id(self) -> int: ...

    def check_read(self, table: Table, address: int, count: int) -> int | None:
        """None if the read is answered, else its exception code; may raise ``NoAnswer``."""

    def values(self, table: Table, address: int, count: int) -> Items:
        """Registers or bits from ``address`` now; addresses without a point read 0."""

    def write(self, table: Table, address: int, values: Items) -> int | None:
        """Store ``values`` at ``address``; None or an exception code. May raise ``NoAnswer``."""


def wire_encoder(spec: ModbusPoint) -> Callable[[float], list[int] | bool]:
    """A function from a wire value (before scaling) to the registers (or bit) ``spec`` sends.

    Integers are rounded and clamped to their type, floats clamped to their range, a non-finite
    value sent as 0, strings are the number's text: a simulator must always answer something.
    Built once per point: the server calls it for every point of every read.
    """
    if spec.table.is_bit_table or spec.bit is not None or spec.dtype is DataType.BOOL:
        return lambda raw: bool(raw >= 0.5)
    unscaled = dataclasses.replace(spec, scale=1.0, offset=0.0)
    if spec.dtype is DataType.STRING:
        width = 2 * spec.length
        return lambda raw: encode(unscaled, f"{raw:g}"[:width])
    limits = type_range(spec.dtype)
    assert limits is not None
    lo, hi = limits
    # Pack big-endian, then read the bytes back as the order's registers (see codec).
    fmt = ">" + spec.dtype.struct_code
    if spec.order in (WordOrder.BADC, WordOrder.DCBA):
        fmt = "<" + spec.dtype.struct_code  # the little-endian value, read big-endian per word
    pack = struct.Struct(fmt).pack
    words = struct.Struct(f">{spec.dtype.registers}H").unpack
    reverse = spec.order in (WordOrder.CDAB, WordOrder.BADC)
    is_float = spec.dtype in (DataType.FLOAT32, DataType.FLOAT64)

    def to_registers(raw: float) -> list[int] | bool:
        value: float = raw if math.isfinite(raw) else 0.0
        value = lo if value < lo else hi if value > hi else value
        registers = list(words(pack(value if is_float else round(value))))
        return registers[::-1] if reverse else registers

    return to_registers


def raw_registers(spec: ModbusPoint, raw: float) -> list[int] | bool:
    """``wire_encoder(spec)(raw)``: one wire value of ``spec`` as registers (or a bit)."""
    return wire_encoder(spec)(raw)


@dataclasses.dataclass(frozen=True, slots=True)
class _Placed:
    first: int
    last: int
    spec: ModbusPoint
    point_id: str
    to_registers: Callable[[float], list[int] | bool]


class ProfileUnit:
    """A ``SimDevice`` served as one Modbus unit (see the module docstring)."""

    def __init__(self, device: SimDevice) -> None:
        profile = device.profile
        self.device = device
        defaults = profile.modbus
        self._unit_id = (
            device.entry.unit_id
            if device.entry.unit_id is not None
            else (defaults.unit_id if defaults else 1)
        )
        self.max_registers = defaults.max_block_registers if defaults else MAX_READ_REGISTERS
        self.max_bits = defaults.max_block_bits if defaults else MAX_READ_BITS
        self.forbidden = list(defaults.forbidden_ranges) if defaults else []
        self._tables: dict[Table, list[_Placed]] = {t: [] for t in Table}
        for point in profile.points:
            spec = driver_spec(profile, point, device.entry)
            assert isinstance(spec, ModbusPoint)
            placed = _Placed(
                spec.address, spec.address + spec.width - 1, spec, point.id, wire_encoder(spec)
            )
            self._tables[spec.table].append(placed)
        for placed_list in self._tables.values():
            placed_list.sort(key=lambda p: p.first)
        self._starts = {t: [p.first for p in ps] for t, ps in self._tables.items()}
        self._widest = {
            t: max((p.last - p.first + 1 for p in ps), default=1) for t, ps in self._tables.items()
        }
        self._written: dict[Table, dict[int, int | bool]] = {Table.COIL: {}, Table.HOLDING: {}}
        self._encoded: dict[str, tuple[float, list[int] | bool]] = {}
        self._extents = {
            t: (ps[0].first, max(p.last for p in ps)) if ps else None
            for t, ps in self._tables.items()
        }

    @property
    def unit_id(self) -> int:
        return self._unit_id

    def extent(self, table: Table) -> tuple[int, int] | None:
        """The first and last address of ``table`` the unit's points occupy (None: no points)."""
        return self._extents[table]

    def _check(self, table: Table, address: int, count: int) -> int | None:
        if not self.device.online:
            raise NoAnswer(self.device.id)
        extent = self.extent(table)
        last = address + count - 1
        if extent is None or address < extent[0] or last > extent[1]:
            return ILLEGAL_ADDRESS
        if any(t is table and address <= hi and lo <= last for t, lo, hi in self.forbidden):
            return ILLEGAL_ADDRESS
        return None

    def check_read(self, table: Table, address: int, count: int) -> int | None:
        code = self._check(table, address, count)
        if code is not None:
            return code
        limit = self.max_bits if table.is_bit_table else self.max_registers
        return ILLEGAL_VALUE if count > limit else None

    def read(self, table: Table, address: int, count: int) -> Items | int:
        """``check_read`` then ``values``: what a client gets."""
        code = self.check_read(table, address, count)
        return code if code is not None else self.values(table, address, count)

    def values(self, table: Table, address: int, count: int) -> Items:
        last = address + count - 1
        placed = self._tables[table]
        starts = self._starts[table]
        lo_i = bisect.bisect_left(starts, address - self._widest[table] + 1)
        hi_i = bisect.bisect_right(starts, last)
        out: list[int] = [0] * count
        device = self.device
        t = device.now()  # one instant for the whole answer
        hits = [p for p in placed[lo_i:hi_i] if p.last >= address]
        raws = device.wire_values([p.point_id for p in hits], t)
        encoded = self._encoded
        for p, raw in zip(hits, raws, strict=True):
            memo = encoded.get(p.point_id)
            if memo is not None and memo[0] == raw:
                wire = memo[1]  # same value as last time: same registers
            else:
                wire = p.to_registers(raw)
                encoded[p.point_id] = (raw, wire)
            if isinstance(wire, bool):
                if p.spec.bit is not None:
                    if wire:
                        out[p.first - address] |= 1 << p.spec.bit
                else:
                    out[p.first - address] = int(wire)
                continue
            if p.first >= address and p.last <= last:
                out[p.first - address : p.last - address + 1] = wire
                continue
            for k, register in enumerate(wire):
                a = p.first + k
                if address <= a <= last:
                    out[a - address] = register
        for a, stored in self._written.get(table, {}).items():
            if address <= a <= last:
                out[a - address] = int(stored)
        if table.is_bit_table:
            return [bool(v) for v in out]
        return out

    def write(self, table: Table, address: int, values: Items) -> int | None:
        code = self._check(table, address, len(values))
        if code is not None:
            return code
        store = self._written.get(table)
        if store is None:
            return ILLEGAL_FUNCTION
        for k, v in enumerate(values):
            store[address + k] = bool(v) if table.is_bit_table else int(v)
        return None
