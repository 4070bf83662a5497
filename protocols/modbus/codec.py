"""Registers to values and back, for every ``DataType`` in every ``WordOrder``.

Decode runs the fixed pipeline of ``points.py``: the point's registers are put in ``ABCD`` order
(word and byte swap), unpacked as the point's type, NaN/inf rejected (the caller marks the point
bad), then ``value * scale + offset``. Encode runs it backwards: ``(value - offset) / scale``,
checked against the type's range, packed, and permuted into the point's order.

Word orders generalise to any width: ``ABCD`` is big-endian words and bytes; ``CDAB`` reverses the
order of the words; ``BADC`` swaps the two bytes inside each word; ``DCBA`` does both (fully
little-endian). A one-register value is therefore unchanged by ``CDAB`` and byte-swapped by
``BADC`` and ``DCBA``. Strings use the same rule over their whole length.

Integers come back as ``int`` when the point has no scaling (so 64-bit values keep every bit),
as ``float`` otherwise. A string is fixed-length ASCII; trailing NUL and space padding is removed.

Errors: :class:`~protocols.errors.DecodeError` (``reason`` gives the sample's reason code) for
what came off the wire, :class:`EncodeError` (a ``ConfigError``) for a value that does not fit.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

from protocols.errors import ConfigError, DecodeError
from protocols.types import Value

from .points import DataType, ModbusPoint, WordOrder

__all__ = [
    "BlockDecoder",
    "EncodeError",
    "NotFiniteError",
    "block_bytes",
    "block_decoder_for",
    "decode",
    "decoder_for",
    "encode",
    "from_wire_bytes",
    "to_wire_bytes",
    "type_range",
]


class EncodeError(ConfigError):
    """A value cannot be written to a point: wrong kind, outside the type's range, not finite."""


class NotFiniteError(DecodeError):
    """A float register pair holds NaN or infinity; the point is bad, not a number."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


_INT_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
_FLOAT_MAX: dict[DataType, float] = {
    DataType.FLOAT32: struct.unpack(">f", b"\x7f\x7f\xff\xff")[0],
    DataType.FLOAT64: 1.7976931348623157e308,
}


def type_range(dtype: DataType) -> tuple[float, float] | None:
    """The raw (unscaled) range a numeric type holds; ``None`` for bool and string."""
    if dtype in _INT_RANGES:
        return _INT_RANGES[dtype]
    if dtype in _FLOAT_MAX:
        return (-_FLOAT_MAX[dtype], _FLOAT_MAX[dtype])
    return None


# Word orders as struct formats: "<" reads each register's two bytes the other way round (the
# BA of BADC), reversing the register list reverses the words (the CDAB of CDAB).
_BYTES_SWAPPED = {WordOrder.BADC, WordOrder.DCBA}
_WORDS_REVERSED = {WordOrder.CDAB, WordOrder.DCBA}


@functools.lru_cache(maxsize=512)
def _words(
    count: int, order: WordOrder
) -> tuple[Callable[..., bytes], Callable[[bytes], tuple[int, ...]], bool]:
    fmt = struct.Struct(("<" if order in _BYTES_SWAPPED else ">") + f"{count}H")
    return fmt.pack, fmt.unpack, order in _WORDS_REVERSED


def to_wire_bytes(registers: Sequence[int], order: WordOrder) -> bytes:
    """The bytes of ``registers`` (as sent in ``order``) rearranged into ``ABCD`` order."""
    pack, _, reverse = _words(len(registers), order)
    return pack(*(registers[::-1] if reverse else registers))


def from_wire_bytes(data: bytes, order: WordOrder) -> list[int]:
    """Registers that carry ``data`` (given in ``ABCD`` order) in the word order ``order``."""
    if len(data) % 2:
        raise ValueError(f"{len(data)} bytes do not fill whole 16-bit registers")
    _, unpack, reverse = _words(len(data) // 2, order)
    registers = list(unpack(data))
    return registers[::-1] if reverse else registers


def _where(point: ModbusPoint) -> str:
    return f"Modbus point {point.key!r} ({point.table.value} {point.address}, {point.dtype.name.lower()})"


def decoder_for(point: ModbusPoint) -> Callable[[Sequence[int] | Sequence[bool]], Value]:
    """A function from the point's own registers (or bit) to its value, built once per plan.

    The function takes exactly ``point.width`` items: registers for register tables, bools for
    coils and discrete inputs. It raises ``DecodeError`` for what cannot be a value.
    """
    if point.table.is_bit_table:
        return lambda words: bool(words[0])
    if point.bit is not None:
        mask = 1 << point.bit
        return lambda words: bool(int(words[0]) & mask)
    dtype, order = point.dtype, point.order
    if dtype is DataType.STRING:

        def decode_string(words: Sequence[int] | Sequence[bool]) -> Value:
            data = to_wire_bytes([int(w) for w in words], order)
            text = data.rstrip(b"\x00 ")
            try:
                return text.decode("ascii")
            except UnicodeDecodeError as exc:
                raise DecodeError(
                    f"{_where(point)}: bytes {data!r} are not ASCII", retriable=False
                ) from exc

        return decode_string
    unpack = struct.Struct(">" + dtype.struct_code).unpack
    pack, _, reverse = _words(dtype.registers, order)
    is_float = dtype in _FLOAT_MAX
    scale, offset = point.scale, point.offset
    plain = scale == 1.0 and offset == 0.0

    def decode_number(words: Sequence[int] | Sequence[bool]) -> Value:
        raw = unpack(pack(*(words[::-1] if reverse else words)))[0]
        if is_float and not math.isfinite(raw):
            kind = "nan" if math.isnan(raw) else "inf"
            raise NotFiniteError(f"{_where(point)}: value is {raw}", reason=f"modbus.value.{kind}")
        if plain:
            return raw  # type: ignore[no-any-return]
        return raw * scale + offset  # type: ignore[no-any-return]

    return decode_number


BlockDecoder = Callable[[Sequence[Any], bytes, bytes, int], Value]
"""``(items, big, little, offset) -> value``: one point out of a whole block read (see below)."""


@functools.lru_cache(maxsize=256)
def _block_packers(count: int) -> tuple[Callable[..., bytes], Callable[..., bytes]]:
    return struct.Struct(f">{count}H").pack, struct.Struct(f"<{count}H").pack


def block_bytes(registers: Sequence[int]) -> tuple[bytes, bytes]:
    """A block's registers as bytes, each register big-endian and each little-endian.

    Every word order is then one ``struct.unpack_from`` away: ``ABCD`` is the big-endian bytes
    read big-endian, ``DCBA`` the same bytes read little-endian, ``BADC`` the little-endian
    bytes read big-endian and ``CDAB`` the little-endian bytes read little-endian.
    """
    big, little = _block_packers(len(registers))
    return big(*registers), little(*registers)


def block_decoder_for(point: ModbusPoint) -> BlockDecoder:
    """Like :func:`decoder_for`, but reading the point in place from a whole block.

    The function takes the block's items (registers or bools), the two byte forms of its
    registers from :func:`block_bytes` (ignored for bit tables) and the point's offset in the
    block, so decoding a value costs one ``unpack_from`` instead of repacking its registers.
    """
    width = point.width
    if point.table.is_bit_table:
        return lambda items, big, little, i: bool(items[i])
    if point.bit is not None:
        mask = 1 << point.bit
        return lambda items, big, little, i: bool(items[i] & mask)
    if point.dtype is DataType.STRING:
        from_words = decoder_for(point)
        return lambda items, big, little, i: from_words(items[i : i + width])
    order = point.order
    read_little_bytes = order in (WordOrder.BADC, WordOrder.CDAB)
    endian = "<" if order in _WORDS_REVERSED else ">"
    unpack_from = struct.Struct(endian + point.dtype.struct_code).unpack_from
    is_float = point.dtype in _FLOAT_MAX
    scale, offset = point.scale, point.offset
    plain = scale == 1.0 and offset == 0.0

    def decode_in_block(items: Sequence[Any], big: bytes, little: bytes, i: int) -> Value:
        raw = unpack_from(little if read_little_bytes else big, 2 * i)[0]
        if is_float and not math.isfinite(raw):
            kind = "nan" if math.isnan(raw) else "inf"
            raise NotFiniteError(f"{_where(point)}: value is {raw}", reason=f"modbus.value.{kind}")
        if plain:
            return raw  # type: ignore[no-any-return]
        return raw * scale + offset  # type: ignore[no-any-return]

    return decode_in_block


def decode(point: ModbusPoint, words: Sequence[int] | Sequence[bool]) -> Value:
    """Decode the point's own registers (``point.width`` of them) or bit to its scaled value."""
    if len(words) != point.width:
        raise DecodeError(f"{_where(point)}: needs {point.width} item(s), got {len(words)}")
    return decoder_for(point)(words)


def encode(point: ModbusPoint, value: Value) -> list[int] | bool:
    """What to write for ``value``: a bool for a coil or a register bit, else the registers.

    For a register bit the caller merges the bool into the register it read. Raises
    :class:`EncodeError` naming the point, the value and the range the type can hold.
    """
    where = _where(point)
    if point.table.is_bit_table or point.bit is not None:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise EncodeError(f"{where}: cannot write {value!r}; expected a bool (or 0/1)")
    dtype = point.dtype
    if dtype is DataType.STRING:
        return _encode_string(point, value, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EncodeError(f"{where}: cannot write {value!r}; expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise EncodeError(f"{where}: cannot write {value!r}; only finite numbers are written")
    raw: float | int = (
        value
        if point.scale == 1.0 and point.offset == 0.0
        else (value - point.offset) / point.scale
    )
    if dtype in _INT_RANGES:
        packed_int = _to_int(raw, where, value, point)
        lo, hi = _INT_RANGES[dtype]
        if not lo <= packed_int <= hi:
            raise EncodeError(
                f"{where}: value {value!r} is raw {packed_int}, outside {dtype.name.lower()} "
                f"range {lo}..{hi}{_scaling_note(point)}"
            )
        data = struct.pack(">" + dtype.struct_code, packed_int)
    else:
        limit = _FLOAT_MAX[dtype]
        if not -limit <= raw <= limit:
            raise EncodeError(
                f"{where}: value {value!r} is raw {raw!r}, outside {dtype.name.lower()} "
                f"range ±{limit:.6g}{_scaling_note(point)}"
            )
        data = struct.pack(">" + dtype.struct_code, float(raw))
    return from_wire_bytes(data, point.order)


def _scaling_note(point: ModbusPoint) -> str:
    if point.scale == 1.0 and point.offset == 0.0:
        return ""
    return f" (raw = (value - {point.offset}) / {point.scale})"


def _to_int(raw: float | int, where: str, value: float | int, point: ModbusPoint) -> int:
    if isinstance(raw, int):
        return raw
    nearest = round(raw)
    # A scaled value carries float rounding noise (7.2 / 0.1 = 71.99999...); anything beyond
    # that noise would be silently changed by the write, so it is refused.
    if abs(raw - nearest) > 1e-6 * max(1.0, abs(raw)):
        raise EncodeError(
            f"{where}: value {value!r} is raw {raw!r}, not a whole number; "
            f"{point.dtype.name.lower()} holds integers{_scaling_note(point)}"
        )
    return int(nearest)


def _encode_string(point: ModbusPoint, value: Value, where: str) -> list[int]:
    if not isinstance(value, str):
        raise EncodeError(f"{where}: cannot write {value!r}; expected a string")
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{where}: string {value!r} is not ASCII") from exc
    size = 2 * point.length
    if len(data) > size:
        raise EncodeError(
            f"{where}: string {value!r} has {len(data)} bytes, the point holds {size} "
            f"({point.length} registers)"
        )
    return from_wire_bytes(data.ljust(size, b"\x00"), point.order)
