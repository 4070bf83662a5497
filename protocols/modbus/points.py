"""Modbus point specs: which table, address, type and word order a value lives at.

Decode order (fixed, after home-assistant's modbus pipeline): registers are put in ``ABCD`` order
(word and byte swap per ``order``), unpacked as ``dtype``, NaN/inf marked bad, then
``value * scale + offset``. Writes run the same pipeline backwards.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocols.driver import PointSpec
from protocols.errors import ConfigError


class Table(enum.StrEnum):
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit_table(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def writable(self) -> bool:
        return self in (Table.COIL, Table.HOLDING)


class DataType(enum.Enum):
    """Each member pairs its ``struct`` code with its width in 16-bit registers."""

    BOOL = ("?", 1)
    INT16 = ("h", 1)
    UINT16 = ("H", 1)
    INT32 = ("i", 2)
    UINT32 = ("I", 2)
    INT64 = ("q", 4)
    UINT64 = ("Q", 4)
    FLOAT32 = ("f", 2)
    FLOAT64 = ("d", 4)
    STRING = ("s", 0)  # width comes from the point's ``length`` (registers)

    def __init__(self, struct_code: str, registers: int) -> None:
        self.struct_code = struct_code
        self.registers = registers

    @classmethod
    def parse(cls, name: str) -> DataType:
        try:
            return cls[name.upper()]
        except KeyError:
            known = ", ".join(m.name.lower() for m in cls)
            raise ConfigError(f"unknown Modbus data type {name!r}; known: {known}") from None


class WordOrder(enum.StrEnum):
    """Order of the bytes of a multi-register value, ``A`` being the most significant byte.

    ``ABCD`` is big-endian words and bytes (Modbus's own convention); ``CDAB`` swaps words;
    ``BADC`` swaps bytes inside each word; ``DCBA`` is fully little-endian.
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


@dataclass(frozen=True, slots=True)
class ModbusPoint(PointSpec):
    """One value at a Modbus address. ``bit`` selects one bit (0 = LSB) of a holding/input register."""

    unit_id: int = 1
    table: Table = Table.HOLDING
    address: int = 0
    dtype: DataType = DataType.UINT16
    order: WordOrder = WordOrder.ABCD
    bit: int | None = None
    length: int = 0  # registers, for STRING only
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        where = f"Modbus point {self.key!r}"
        self._coerce_names(where)
        if not 0 <= self.unit_id <= 255:
            raise ConfigError(f"{where}: unit_id={self.unit_id} must be 0..255")
        if not 0 <= self.address <= 0xFFFF:
            raise ConfigError(f"{where}: address={self.address} must be 0..65535")
        if self.table.is_bit_table and self.dtype is not DataType.BOOL:
            raise ConfigError(f"{where}: table {self.table.value} holds bits, type must be bool")
        if self.dtype is DataType.BOOL and not self.table.is_bit_table and self.bit is None:
            raise ConfigError(f"{where}: a bool in a register needs 'bit' (0..15)")
        if self.bit is not None and not (0 <= self.bit <= 15 and not self.table.is_bit_table):
            raise ConfigError(f"{where}: bit={self.bit} must be 0..15 and only on register tables")
        if self.dtype is DataType.STRING and not 1 <= self.length <= 125:
            raise ConfigError(f"{where}: a string needs length=1..125 registers, got {self.length}")
        if self.scale == 0:
            raise ConfigError(f"{where}: scale must not be 0")
        if self.address + self.width - 1 > 0xFFFF:
            raise ConfigError(f"{where}: address {self.address} + width {self.width} passes 65535")

    def _coerce_names(self, where: str) -> None:
        """Accept names for the enums ("holding", "float32", "CDAB"), as configs write them."""
        table: object = self.table
        if isinstance(table, str) and not isinstance(table, Table):
            try:
                object.__setattr__(self, "table", Table(table.lower()))
            except ValueError:
                known = ", ".join(t.value for t in Table)
                raise ConfigError(f"{where}: unknown table {table!r}; known: {known}") from None
        order: object = self.order
        if isinstance(order, str) and not isinstance(order, WordOrder):
            try:
                object.__setattr__(self, "order", WordOrder(order.upper()))
            except ValueError:
                known = ", ".join(o.value for o in WordOrder)
                raise ConfigError(
                    f"{where}: unknown word order {order!r}; known: {known}"
                ) from None
        dtype: object = self.dtype
        if isinstance(dtype, str):
            object.__setattr__(self, "dtype", DataType.parse(dtype))

    @property
    def width(self) -> int:
        """Registers (or bits, for bit tables) this point occupies."""
        if self.table.is_bit_table or self.bit is not None:
            return 1
        if self.dtype is DataType.STRING:
            return self.length
        return self.dtype.registers
