"""The codec against an encoder written here from ``struct`` and explicit byte permutations."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import ConfigError, DecodeError
from protocols.modbus import DataType, ModbusPoint, Table, WordOrder, decode, encode
from protocols.modbus.codec import EncodeError, NotFiniteError, block_bytes, block_decoder_for

ORDERS = list(WordOrder)

INT_BOUNDS = {
    DataType.INT16: (-32768, 32767),
    DataType.UINT16: (0, 65535),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
STRUCT = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}

# Where each wire byte comes from, as indexes into the big-endian (ABCD...) bytes, written out
# by hand for the fixed widths.
PERMUTATIONS = {
    2: {
        WordOrder.ABCD: [0, 1],
        WordOrder.CDAB: [0, 1],
        WordOrder.BADC: [1, 0],
        WordOrder.DCBA: [1, 0],
    },
    4: {
        WordOrder.ABCD: [0, 1, 2, 3],
        WordOrder.CDAB: [2, 3, 0, 1],
        WordOrder.BADC: [1, 0, 3, 2],
        WordOrder.DCBA: [3, 2, 1, 0],
    },
    8: {
        WordOrder.ABCD: [0, 1, 2, 3, 4, 5, 6, 7],
        WordOrder.CDAB: [6, 7, 4, 5, 2, 3, 0, 1],
        WordOrder.BADC: [1, 0, 3, 2, 5, 4, 7, 6],
        WordOrder.DCBA: [7, 6, 5, 4, 3, 2, 1, 0],
    },
}


def permutation(order: WordOrder, size: int) -> list[int]:
    if size in PERMUTATIONS:
        return PERMUTATIONS[size][order]
    words = size // 2
    if order is WordOrder.ABCD:
        return list(range(size))
    if order is WordOrder.BADC:
        return [i ^ 1 for i in range(size)]
    if order is WordOrder.CDAB:
        return [2 * (words - 1 - i // 2) + i % 2 for i in range(size)]
    return [size - 1 - i for i in range(size)]


def wire_registers(big_endian: bytes, order: WordOrder) -> list[int]:
    """The registers a device with word order ``order`` sends for ``big_endian``."""
    perm = permutation(order, len(big_endian))
    wire = bytes(big_endian[i] for i in perm)
    return [wire[i] << 8 | wire[i + 1] for i in range(0, len(wire), 2)]


def point(dtype: DataType, order: WordOrder, **kw: object) -> ModbusPoint:
    return ModbusPoint(key="p", table=Table.HOLDING, address=100, dtype=dtype, order=order, **kw)  # type: ignore[arg-type]


int_types = st.sampled_from(list(INT_BOUNDS))
orders = st.sampled_from(ORDERS)


@st.composite
def typed_ints(draw: st.DrawFn) -> tuple[DataType, int]:
    dtype = draw(int_types)
    lo, hi = INT_BOUNDS[dtype]
    return dtype, draw(st.integers(lo, hi))


@given(typed_ints(), orders)
def test_integers_decode_to_what_the_independent_encoder_wrote(
    case: tuple[DataType, int], order: WordOrder
) -> None:
    dtype, value = case
    registers = wire_registers(struct.pack(">" + STRUCT[dtype], value), order)
    decoded = decode(point(dtype, order), registers)
    assert decoded == value
    assert isinstance(decoded, int)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False), orders)
def test_float32_decodes_to_what_the_independent_encoder_wrote(
    value: float, order: WordOrder
) -> None:
    registers = wire_registers(struct.pack(">f", value), order)
    assert decode(point(DataType.FLOAT32, order), registers) == value


@given(st.floats(allow_nan=False, allow_infinity=False), orders)
def test_float64_decodes_to_what_the_independent_encoder_wrote(
    value: float, order: WordOrder
) -> None:
    registers = wire_registers(struct.pack(">d", value), order)
    assert decode(point(DataType.FLOAT64, order), registers) == value


@given(typed_ints(), orders)
def test_integers_encode_to_what_the_independent_encoder_writes(
    case: tuple[DataType, int], order: WordOrder
) -> None:
    dtype, value = case
    expected = wire_registers(struct.pack(">" + STRUCT[dtype], value), order)
    assert encode(point(dtype, order), value) == expected


@given(st.floats(width=32, allow_nan=False, allow_infinity=False), orders)
def test_float32_round_trips(value: float, order: WordOrder) -> None:
    p = point(DataType.FLOAT32, order)
    registers = encode(p, value)
    assert registers == wire_registers(struct.pack(">f", value), order)
    assert decode(p, registers) == value  # type: ignore[arg-type]


@given(st.floats(allow_nan=False, allow_infinity=False), orders)
def test_float64_round_trips(value: float, order: WordOrder) -> None:
    p = point(DataType.FLOAT64, order)
    assert decode(p, encode(p, value)) == value  # type: ignore[arg-type]


@st.composite
def moderate_ints(draw: st.DrawFn) -> tuple[DataType, int]:
    """Raw integers small enough (|raw| <= 2**40) for scaling in float arithmetic to be exact."""
    dtype = draw(int_types)
    lo, hi = INT_BOUNDS[dtype]
    return dtype, draw(st.integers(max(lo, -(2**40)), min(hi, 2**40)))


@given(
    moderate_ints(),
    orders,
    st.sampled_from([0.1, 0.01, 0.5, 2.0, 10.0, -0.25]),
    st.sampled_from([0.0, -40.0, 273.15, 3.5]),
)
def test_scaled_integers_round_trip_through_the_raw_value(
    case: tuple[DataType, int], order: WordOrder, scale: float, offset: float
) -> None:
    dtype, raw = case
    p = point(dtype, order, scale=scale, offset=offset)
    registers = wire_registers(struct.pack(">" + STRUCT[dtype], raw), order)
    value = decode(p, registers)
    assert value == raw * scale + offset
    assert encode(p, value) == registers


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=16), orders)
def test_strings_decode_and_round_trip(text: str, order: WordOrder) -> None:
    p = ModbusPoint(
        key="tag", table=Table.INPUT, address=5, dtype=DataType.STRING, length=8, order=order
    )
    big_endian = text.encode("ascii").ljust(16, b"\x00")
    registers = wire_registers(big_endian, order)
    assert decode(p, registers) == text
    assert encode(p, text) == registers


@given(st.integers(0, 0xFFFF), st.integers(0, 15))
def test_register_bits(register: int, bit: int) -> None:
    p = ModbusPoint(key="alarm", table=Table.HOLDING, address=1, dtype=DataType.BOOL, bit=bit)
    assert decode(p, [register]) is bool(register >> bit & 1)
    assert encode(p, True) is True


@pytest.mark.parametrize("table", [Table.COIL, Table.DISCRETE_INPUT])
def test_bits_of_bit_tables(table: Table) -> None:
    p = ModbusPoint(key="di", table=table, address=3, dtype=DataType.BOOL)
    assert decode(p, [True]) is True
    assert decode(p, [False]) is False
    assert encode(p, 1) is True


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("dtype", "value", "reason"),
    [
        (DataType.FLOAT32, math.nan, "modbus.value.nan"),
        (DataType.FLOAT32, math.inf, "modbus.value.inf"),
        (DataType.FLOAT64, -math.inf, "modbus.value.inf"),
        (DataType.FLOAT64, math.nan, "modbus.value.nan"),
    ],
)
def test_not_finite_floats_are_refused_with_a_reason(
    dtype: DataType, value: float, reason: str, order: WordOrder
) -> None:
    registers = wire_registers(struct.pack(">" + STRUCT[dtype], value), order)
    with pytest.raises(NotFiniteError) as info:
        decode(point(dtype, order), registers)
    assert info.value.reason == reason
    assert isinstance(info.value, DecodeError)


def test_nan_is_refused_before_scaling() -> None:
    registers = wire_registers(struct.pack(">f", math.nan), WordOrder.ABCD)
    with pytest.raises(NotFiniteError):
        decode(point(DataType.FLOAT32, WordOrder.ABCD, scale=0.0001, offset=5.0), registers)


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (DataType.UINT16, 65536, "outside uint16 range 0..65535"),
        (DataType.UINT16, -1, "outside uint16 range 0..65535"),
        (DataType.INT16, 40000, "outside int16 range -32768..32767"),
        (DataType.UINT32, 2**32, "outside uint32 range 0..4294967295"),
        (DataType.INT64, 2**63, "outside int64 range"),
        (DataType.FLOAT32, 1e39, "outside float32 range"),
        (DataType.UINT16, 1.5, "not a whole number"),
        (DataType.FLOAT32, math.nan, "only finite numbers"),
        (DataType.INT32, "12", "expected a number"),
        (DataType.INT32, True, "expected a number"),
    ],
)
def test_encode_refuses_what_does_not_fit_naming_point_value_and_range(
    dtype: DataType, value: object, expected: str
) -> None:
    p = ModbusPoint(key="setpoint", table=Table.HOLDING, address=40, dtype=dtype)
    with pytest.raises(EncodeError) as info:
        encode(p, value)  # type: ignore[arg-type]
    message = str(info.value)
    assert expected in message
    assert "'setpoint'" in message
    assert repr(value) in message
    assert isinstance(info.value, ConfigError)


def test_encode_of_a_scaled_point_names_the_raw_range() -> None:
    p = ModbusPoint(key="sp", table=Table.HOLDING, address=1, dtype=DataType.UINT16, scale=0.1)
    assert encode(p, 6553.5) == [65535]
    with pytest.raises(EncodeError, match=r"raw 65536.*0\.\.65535.*raw = \(value - 0.0\) / 0.1"):
        encode(p, 6553.6)


def test_strings_that_do_not_fit_or_are_not_ascii_are_refused() -> None:
    p = ModbusPoint(key="tag", table=Table.HOLDING, address=5, dtype=DataType.STRING, length=2)
    assert decode(p, encode(p, "ABCD")) == "ABCD"  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="5 bytes, the point holds 4"):
        encode(p, "ABCDE")
    with pytest.raises(EncodeError, match="not ASCII"):
        encode(p, "µA")
    with pytest.raises(DecodeError, match="not ASCII"):
        decode(p, [0xC3B5, 0])


def test_bits_refuse_non_bools() -> None:
    p = ModbusPoint(key="fan", table=Table.COIL, address=0, dtype=DataType.BOOL)
    with pytest.raises(EncodeError, match="expected a bool"):
        encode(p, 2)


def test_decode_checks_the_number_of_registers() -> None:
    with pytest.raises(DecodeError, match="needs 2 item"):
        decode(point(DataType.FLOAT32, WordOrder.ABCD), [1])


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[DataType, int | float]:
    dtype = draw(st.sampled_from([*INT_BOUNDS, DataType.FLOAT32, DataType.FLOAT64]))
    if dtype is DataType.FLOAT32:
        return dtype, draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
    if dtype is DataType.FLOAT64:
        return dtype, draw(st.floats(allow_nan=False, allow_infinity=False))
    lo, hi = INT_BOUNDS[dtype]
    return dtype, draw(st.integers(lo, hi))


@given(
    typed_values(),
    orders,
    st.lists(st.integers(0, 0xFFFF), max_size=10),
    st.lists(st.integers(0, 0xFFFF), max_size=10),
)
def test_in_block_decoding_reads_the_value_at_its_offset(
    case: tuple[DataType, int | float], order: WordOrder, before: list[int], after: list[int]
) -> None:
    """The driver decodes a point in place from the whole block: same value as on its own."""
    dtype, value = case
    registers = wire_registers(struct.pack(">" + STRUCT[dtype], value), order)
    block = [*before, *registers, *after]
    big, little = block_bytes(block)
    p = point(dtype, order)
    assert block_decoder_for(p)(block, big, little, len(before)) == value


def test_in_block_decoding_of_bits_strings_and_scaling() -> None:
    block = [0x0000, 0b1000_0000_0000_0100, 0x4142, 0x4300, 1000]
    big, little = block_bytes(block)
    bit2 = ModbusPoint(key="b", address=1, dtype=DataType.BOOL, bit=2)
    bit3 = ModbusPoint(key="c", address=1, dtype=DataType.BOOL, bit=3)
    tag = ModbusPoint(key="t", address=2, dtype=DataType.STRING, length=2)
    scaled = ModbusPoint(key="s", address=4, dtype=DataType.INT16, scale=0.5, offset=-10)
    assert block_decoder_for(bit2)(block, big, little, 1) is True
    assert block_decoder_for(bit3)(block, big, little, 1) is False
    assert block_decoder_for(tag)(block, big, little, 2) == "ABC"
    assert block_decoder_for(scaled)(block, big, little, 4) == 490.0
    coil = ModbusPoint(key="k", table=Table.COIL, address=7, dtype=DataType.BOOL)
    assert block_decoder_for(coil)([False, True], b"", b"", 1) is True
    nan_block = wire_registers(struct.pack(">f", math.nan), WordOrder.CDAB)
    with pytest.raises(NotFiniteError):
        block_decoder_for(point(DataType.FLOAT32, WordOrder.CDAB))(
            nan_block, *block_bytes(nan_block), 0
        )
