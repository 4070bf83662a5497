"""Read planning: minimal (against a brute-force oracle), within limits, never forbidden."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocols.errors import ConfigError
from protocols.modbus import DataType, ModbusPoint, ReadPlan, Table, plan_reads

WIDTH_TYPES = {1: DataType.UINT16, 2: DataType.FLOAT32, 4: DataType.FLOAT64}


def make_point(
    i: int, address: int, width: int, *, unit_id: int = 1, table: Table = Table.HOLDING
) -> ModbusPoint:
    if table.is_bit_table:
        return ModbusPoint(
            key=f"p{i}", unit_id=unit_id, table=table, address=address, dtype=DataType.BOOL
        )
    if width == 0:  # a bit of a register
        return ModbusPoint(
            key=f"p{i}",
            unit_id=unit_id,
            table=table,
            address=address,
            dtype=DataType.BOOL,
            bit=i % 16,
        )
    return ModbusPoint(
        key=f"p{i}", unit_id=unit_id, table=table, address=address, dtype=WIDTH_TYPES[width]
    )


def span(p: ModbusPoint) -> tuple[int, int]:
    return p.address, p.address + p.width - 1


# -- the oracle ---------------------------------------------------------------------------------


def partitions(items: list[int]) -> Iterator[list[list[int]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in partitions(rest):
        for k in range(len(smaller)):
            yield [*smaller[:k], [first, *smaller[k]], *smaller[k + 1 :]]
        yield [[first], *smaller]


def oracle_block_count(
    points: list[ModbusPoint],
    *,
    max_len: int,
    max_gap: int,
    forbidden: list[tuple[int, int]],
    refused: list[tuple[int, int]],
) -> int:
    """The fewest blocks by trying every partition of the points (small cases only)."""
    covered = {a for p in points for a in range(span(p)[0], span(p)[1] + 1)}
    isolated = {
        span(p) for p in points if any(span(p)[0] <= lo and hi <= span(p)[1] for lo, hi in refused)
    }
    regular = [i for i, p in enumerate(points) if span(p) not in isolated]

    def valid(block: list[int]) -> bool:
        first = min(points[i].address for i in block)
        last = max(span(points[i])[1] for i in block)
        if last - first + 1 > max_len:
            return False
        if any(first <= hi and lo <= last for lo, hi in forbidden):
            return False
        if any(first <= lo and hi <= last for lo, hi in refused):
            return False
        hole = 0
        for a in range(first, last + 1):
            hole = 0 if a in covered else hole + 1
            if hole > max_gap:
                return False
        return True

    best = min(
        (len(p) for p in partitions(regular) if all(valid(b) for b in p)),
        default=0,
    )
    return best + len(isolated)


# -- strategies -----------------------------------------------------------------------------------


@st.composite
def small_cases(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(1, 7))
    points = [
        make_point(i, draw(st.integers(0, 40)), draw(st.sampled_from([0, 1, 1, 2, 4])))
        for i in range(n)
    ]
    max_len = draw(st.integers(max(p.width for p in points), 24))
    max_gap = draw(st.integers(0, 6))
    forbidden = []
    for _ in range(draw(st.integers(0, 2))):
        lo = draw(st.integers(0, 45))
        forbidden.append((lo, lo + draw(st.integers(0, 3))))
    assume(not any(span(p)[0] <= hi and lo <= span(p)[1] for p in points for lo, hi in forbidden))
    refused = []
    for _ in range(draw(st.integers(0, 2))):
        lo = draw(st.integers(0, 45))
        refused.append((lo, lo + draw(st.integers(0, 8))))
    return {
        "points": points,
        "max_len": max_len,
        "max_gap": max_gap,
        "forbidden": forbidden,
        "refused": refused,
    }


def plan_case(case: dict[str, object]) -> ReadPlan:
    return plan_reads(
        case["points"],  # type: ignore[arg-type]
        max_block_registers=case["max_len"],  # type: ignore[arg-type]
        max_gap=case["max_gap"],  # type: ignore[arg-type]
        forbidden_ranges=[(Table.HOLDING, lo, hi) for lo, hi in case["forbidden"]],  # type: ignore[attr-defined]
        refused={(1, Table.HOLDING, lo, hi) for lo, hi in case["refused"]},  # type: ignore[attr-defined]
    )


def check_invariants(plan: ReadPlan, *, max_len: int, max_bits: int = 2000) -> None:
    """Every point read exactly once, inside its block, at the right offset, within limits."""
    seen: list[int] = []
    for block in plan.blocks:
        limit = max_bits if block.table.is_bit_table else max_len
        assert 1 <= block.count <= limit
        assert block.count <= (2000 if block.table.is_bit_table else 125)
        for member, offset in zip(block.members, block.offsets, strict=True):
            p = plan.points[member]
            assert (p.unit_id, p.table) == (block.unit_id, block.table)
            assert block.start <= p.address
            assert p.address + p.width - 1 <= block.last
            assert offset == p.address - block.start
            seen.append(member)
    assert sorted(seen) == list(range(len(plan.points)))


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(small_cases())
def test_plan_is_minimal_against_brute_force(case: dict[str, object]) -> None:
    plan = plan_case(case)
    expected = oracle_block_count(
        case["points"],  # type: ignore[arg-type]
        max_len=case["max_len"],  # type: ignore[arg-type]
        max_gap=case["max_gap"],  # type: ignore[arg-type]
        forbidden=case["forbidden"],  # type: ignore[arg-type]
        refused=case["refused"],  # type: ignore[arg-type]
    )
    assert plan.requests == expected


@settings(max_examples=300, deadline=None)
@given(small_cases())
def test_plan_keeps_every_constraint(case: dict[str, object]) -> None:
    plan = plan_case(case)
    check_invariants(plan, max_len=case["max_len"])  # type: ignore[arg-type]
    refused = case["refused"]
    for block in plan.blocks:
        for lo, hi in case["forbidden"]:  # type: ignore[attr-defined]
            assert block.last < lo or hi < block.start, f"{block} touches forbidden {lo}..{hi}"
        spans = {span(plan.points[m]) for m in block.members}
        contained = [r for r in refused if block.start <= r[0] and r[1] <= block.last]  # type: ignore[attr-defined]
        if contained:
            # Only a point that cannot be read without the refused span is read over it, alone.
            assert len(spans) == 1
            assert spans == {(block.start, block.last)}


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 65000), st.sampled_from([1, 2, 4]), st.integers(1, 3)),
        min_size=1,
        max_size=400,
    ),
    st.integers(4, 125),
    st.integers(0, 20),
)
def test_large_plans_stay_within_protocol_and_device_limits(
    specs: list[tuple[int, int, int]], max_len: int, max_gap: int
) -> None:
    points = [make_point(i, a, w, unit_id=u) for i, (a, w, u) in enumerate(specs)]
    plan = plan_reads(points, max_block_registers=max_len, max_gap=max_gap)
    check_invariants(plan, max_len=max_len)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9000), st.sampled_from([Table.COIL, Table.DISCRETE_INPUT])),
        min_size=1,
        max_size=500,
    ),
    st.integers(1, 2000),
    st.integers(0, 200),
)
def test_bit_plans_stay_within_2000_bits(
    specs: list[tuple[int, Table]], max_bits: int, gap_bits: int
) -> None:
    points = [make_point(i, a, 1, table=t) for i, (a, t) in enumerate(specs)]
    plan = plan_reads(points, max_block_bits=max_bits, max_gap_bits=gap_bits)
    check_invariants(plan, max_len=125, max_bits=max_bits)


# -- examples -------------------------------------------------------------------------------------


def test_one_thousand_float32_points_need_sixteen_reads() -> None:
    points = [make_point(i, 2 * i, 2) for i in range(1000)]
    plan = plan_reads(points)
    # 125 registers hold 62 float32 values (124 registers): ceil(1000 / 62) = 17 blocks.
    assert plan.requests == 17
    assert max(b.count for b in plan.blocks) == 124


def test_bits_of_one_status_register_share_one_read() -> None:
    points = [ModbusPoint(key=f"b{i}", address=10, dtype=DataType.BOOL, bit=i) for i in range(16)]
    plan = plan_reads([*points, make_point(99, 11, 1)])
    assert plan.requests == 1
    assert plan.blocks[0].count == 2


def test_gaps_are_bridged_up_to_max_gap_only() -> None:
    points = [make_point(0, 0, 1), make_point(1, 11, 1), make_point(2, 23, 1)]
    plan = plan_reads(points, max_gap=10)
    assert [(b.start, b.count) for b in plan.blocks] == [(0, 12), (23, 1)]


def test_units_and_tables_are_never_merged() -> None:
    points = [
        make_point(0, 0, 1, unit_id=1),
        make_point(1, 1, 1, unit_id=2),
        make_point(2, 2, 1, table=Table.INPUT),
        make_point(3, 0, 1, table=Table.COIL),
    ]
    plan = plan_reads(points)
    assert plan.requests == 4


def test_forbidden_range_splits_the_read() -> None:
    points = [make_point(0, 0, 2), make_point(1, 6, 2)]
    plan = plan_reads(points, forbidden_ranges=[("holding", 3, 4)])
    assert [(b.start, b.last) for b in plan.blocks] == [(0, 1), (6, 7)]


def test_refused_span_is_avoided_and_its_point_read_alone() -> None:
    points = [make_point(i, i, 1) for i in range(6)]
    plan = plan_reads(points, refused={(1, Table.HOLDING, 0, 5), (1, Table.HOLDING, 3, 3)})
    assert [(b.start, b.last) for b in plan.blocks] == [(0, 2), (3, 3), (4, 5)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_block_registers": 126}, "max_block_registers=126 must be 1..125"),
        ({"max_block_registers": 0}, "max_block_registers=0 must be 1..125"),
        ({"max_block_bits": 2001}, "max_block_bits=2001 must be 1..2000"),
        ({"max_gap": -1}, "max_gap=-1 must be >= 0"),
        ({"forbidden_ranges": [("holdings", 1, 2)]}, "unknown table 'holdings'"),
        ({"forbidden_ranges": [("holding", 5, 2)]}, r"forbidden_ranges\[0\]"),
        ({"forbidden_ranges": [("holding", 1)]}, "expected \\(table, first, last\\)"),
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_reads([make_point(0, 0, 1)], **kwargs)  # type: ignore[arg-type]


def test_a_point_in_a_forbidden_range_is_a_config_error_naming_it() -> None:
    with pytest.raises(
        ConfigError, match=r"'p0'.*holding 10\.\.11 overlaps the forbidden range holding 11\.\.20"
    ):
        plan_reads([make_point(0, 10, 2)], forbidden_ranges=[("holding", 11, 20)])


def test_a_point_wider_than_the_device_read_is_a_config_error() -> None:
    tag = ModbusPoint(key="tag", address=0, dtype=DataType.STRING, length=40)
    with pytest.raises(ConfigError, match=r"'tag': 40 registers .* largest read of 32 registers"):
        plan_reads([tag], max_block_registers=32)


def test_not_a_modbus_point_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"points\[0\]"):
        plan_reads(["h2s"])  # type: ignore[list-item]
