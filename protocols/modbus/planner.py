"""Read planning: merge points into the fewest block reads a device accepts.

Points are grouped by unit id and table; inside a group, a block is a contiguous address range
read with one request. A block is *valid* when

- it is at most ``max_block_registers`` registers (``max_block_bits`` bits for coils and
  discrete inputs) long; both are capped at the protocol limits, 125 registers and 2000 bits
  (Modbus Application Protocol V1.1b3 §6.1-6.4);
- every run of *unused* addresses inside it (addresses no planned point of that unit and table
  occupies) is at most ``max_gap`` registers (``max_gap_bits`` bits, by default 16 per register
  of gap: the same bytes on the wire);
- it does not touch a forbidden range ``(table, first, last)`` (these apply to every unit id);
- it does not contain a span ``(unit_id, table, first, last)`` the device is known to refuse.

Each point lies wholly inside exactly one block. A point whose own span contains a refused span
cannot avoid it: it is read alone (with any point of the identical span), so only points the
device truly refuses stay bad. A point that touches a forbidden range, or is wider than the
maximum block, is a ``ConfigError``.

Every constraint only depends on the block's address range and is kept by any sub-range, so the
greedy plan (extend each block over the next point, in address order, while it stays valid) uses
the fewest blocks.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from protocols.errors import ConfigError

from .codec import BlockDecoder, block_decoder_for
from .points import ModbusPoint, Table

__all__ = [
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "Block",
    "ForbiddenRange",
    "ReadPlan",
    "RefusedSpan",
    "plan_reads",
    "replan",
    "split_block",
]

MAX_READ_REGISTERS = 125  # Modbus Application Protocol V1.1b3 §6.3/§6.4: 1..125 registers a read
MAX_READ_BITS = 2000  # Modbus Application Protocol V1.1b3 §6.1/§6.2: 1..2000 coils/inputs a read

ForbiddenRange = tuple[Table, int, int]
"""``(table, first, last)``: addresses a device must never be asked for (inclusive)."""

RefusedSpan = tuple[int, Table, int, int]
"""``(unit_id, table, first, last)``: a range the device answered with exception 02/03."""


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` items from ``start`` of ``table`` on ``unit_id``.

    ``members`` are indexes into ``ReadPlan.points``; ``offsets`` the matching positions of each
    member's first item inside the block.
    """

    unit_id: int
    table: Table
    start: int
    count: int
    members: tuple[int, ...]
    offsets: tuple[int, ...]

    @property
    def last(self) -> int:
        return self.start + self.count - 1

    @property
    def span(self) -> RefusedSpan:
        return (self.unit_id, self.table, self.start, self.last)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """Blocks to read and the points they carry, in the caller's order; ``refused`` as planned."""

    points: tuple[ModbusPoint, ...]
    blocks: tuple[Block, ...]
    max_block_registers: int = MAX_READ_REGISTERS
    max_block_bits: int = MAX_READ_BITS
    max_gap: int = 10
    max_gap_bits: int = 160
    forbidden_ranges: tuple[ForbiddenRange, ...] = ()
    refused: frozenset[RefusedSpan] = frozenset()
    decoders: tuple[BlockDecoder, ...] = field(default=(), compare=False, repr=False)
    widths: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @property
    def requests(self) -> int:
        return len(self.blocks)


def normalize_forbidden(ranges: Iterable[Sequence[object]]) -> tuple[ForbiddenRange, ...]:
    """``[(table, first, last), ...]`` with tables given by name or ``Table``; errors say which."""
    out: list[ForbiddenRange] = []
    for i, item in enumerate(ranges):
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
            raise ConfigError(
                f"forbidden_ranges[{i}] = {item!r}: expected (table, first, last), e.g. "
                f"('holding', 100, 119)"
            )
        table_name, first, last = item
        try:
            table = table_name if isinstance(table_name, Table) else Table(str(table_name))
        except ValueError:
            known = ", ".join(t.value for t in Table)
            raise ConfigError(
                f"forbidden_ranges[{i}] = {item!r}: unknown table {table_name!r}; known: {known}"
            ) from None
        if not (
            isinstance(first, int)
            and isinstance(last, int)
            and not isinstance(first, bool)
            and not isinstance(last, bool)
            and 0 <= first <= last <= 0xFFFF
        ):
            raise ConfigError(
                f"forbidden_ranges[{i}] = {item!r}: first and last must be integers with "
                f"0 <= first <= last <= 65535"
            )
        out.append((table, first, last))
    return tuple(out)


def plan_reads(
    points: Sequence[ModbusPoint],
    *,
    max_block_registers: int = MAX_READ_REGISTERS,
    max_block_bits: int = MAX_READ_BITS,
    max_gap: int = 10,
    max_gap_bits: int | None = None,
    forbidden_ranges: Iterable[Sequence[object]] = (),
    refused: Collection[RefusedSpan] = frozenset(),
) -> ReadPlan:
    """Plan the fewest valid block reads covering every point exactly once (see module doc)."""
    if not 1 <= max_block_registers <= MAX_READ_REGISTERS:
        raise ConfigError(
            f"max_block_registers={max_block_registers} must be 1..{MAX_READ_REGISTERS}"
        )
    if not 1 <= max_block_bits <= MAX_READ_BITS:
        raise ConfigError(f"max_block_bits={max_block_bits} must be 1..{MAX_READ_BITS}")
    if max_gap < 0:
        raise ConfigError(f"max_gap={max_gap} must be >= 0")
    gap_bits = 16 * max_gap if max_gap_bits is None else max_gap_bits
    if gap_bits < 0:
        raise ConfigError(f"max_gap_bits={max_gap_bits} must be >= 0")
    forbidden = normalize_forbidden(forbidden_ranges)
    for i, p in enumerate(points):
        if not isinstance(p, ModbusPoint):
            raise ConfigError(f"points[{i}] = {p!r} is not a ModbusPoint")

    groups: dict[tuple[int, Table], list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        groups[(p.unit_id, p.table)].append(i)
    refused_by_group: dict[tuple[int, Table], list[tuple[int, int]]] = defaultdict(list)
    for unit_id, table, first, last in refused:
        refused_by_group[(unit_id, table)].append((first, last))

    blocks: list[Block] = []
    for (unit_id, table), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        bits = table.is_bit_table
        group = _Group(
            points=points,
            members=members,
            unit_id=unit_id,
            table=table,
            max_len=max_block_bits if bits else max_block_registers,
            max_gap=gap_bits if bits else max_gap,
            forbidden=[(lo, hi) for t, lo, hi in forbidden if t is table],
            refused=refused_by_group.get((unit_id, table), []),
        )
        blocks.extend(group.plan())
    blocks.sort(key=lambda b: (b.unit_id, b.table.value, b.start))
    return ReadPlan(
        points=tuple(points),
        blocks=tuple(blocks),
        max_block_registers=max_block_registers,
        max_block_bits=max_block_bits,
        max_gap=max_gap,
        max_gap_bits=gap_bits,
        forbidden_ranges=forbidden,
        refused=frozenset(refused),
        decoders=tuple(block_decoder_for(p) for p in points),
        widths=tuple(p.width for p in points),
    )


def replan(plan: ReadPlan, refused: Collection[RefusedSpan]) -> ReadPlan:
    """``plan``'s points planned again with the same limits and a new set of refused spans."""
    return plan_reads(
        plan.points,
        max_block_registers=plan.max_block_registers,
        max_block_bits=plan.max_block_bits,
        max_gap=plan.max_gap,
        max_gap_bits=plan.max_gap_bits,
        forbidden_ranges=plan.forbidden_ranges,
        refused=refused,
    )


def split_block(block: Block, points: Sequence[ModbusPoint]) -> list[Block] | None:
    """``block`` as two blocks with half its distinct point spans each (for a device that
    refused it), or None when all its points share one span and it cannot be split."""
    spans = sorted({_span(points[m]) for m in block.members})
    if len(spans) < 2:
        return None
    first_half = set(spans[: len(spans) // 2])
    halves = []
    for members in (
        [m for m in block.members if _span(points[m]) in first_half],
        [m for m in block.members if _span(points[m]) not in first_half],
    ):
        first = min(points[m].address for m in members)
        last = max(_span(points[m])[1] for m in members)
        halves.append(
            Block(
                unit_id=block.unit_id,
                table=block.table,
                start=first,
                count=last - first + 1,
                members=tuple(members),
                offsets=tuple(points[m].address - first for m in members),
            )
        )
    return halves


def _span(p: ModbusPoint) -> tuple[int, int]:
    return p.address, p.address + p.width - 1


@dataclass
class _Group:
    points: Sequence[ModbusPoint]
    members: list[int]
    unit_id: int
    table: Table
    max_len: int
    max_gap: int
    forbidden: list[tuple[int, int]]
    refused: list[tuple[int, int]]

    def plan(self) -> list[Block]:
        unit = "bits" if self.table.is_bit_table else "registers"
        for i in self.members:
            p = self.points[i]
            first, last = _span(p)
            if p.width > self.max_len:
                raise ConfigError(
                    f"Modbus point {p.key!r}: {p.width} {unit} at {self.table.value} {first} "
                    f"do not fit in the device's largest read of {self.max_len} {unit}"
                )
            for lo, hi in self.forbidden:
                if first <= hi and lo <= last:
                    raise ConfigError(
                        f"Modbus point {p.key!r}: {self.table.value} {first}..{last} overlaps "
                        f"the forbidden range {self.table.value} {lo}..{hi}"
                    )
        self._coverage = _merge(_span(self.points[i]) for i in self.members)
        self._starts = [lo for lo, _ in self._coverage]
        isolated: dict[tuple[int, int], list[int]] = defaultdict(list)
        regular: list[int] = []
        for i in self.members:
            first, last = _span(self.points[i])
            if any(first <= lo and hi <= last for lo, hi in self.refused):
                isolated[(first, last)].append(i)
            else:
                regular.append(i)
        blocks = [self._block(first, last, idx) for (first, last), idx in isolated.items()]
        regular.sort(key=lambda i: _span(self.points[i]))
        current: list[int] = []
        start = end = -1
        for i in regular:
            first, last = _span(self.points[i])
            if current and self._extends(start, end, first, last):
                current.append(i)
                end = max(end, last)
                continue
            if current:
                blocks.append(self._block(start, end, current))
            current, start, end = [i], first, last
        if current:
            blocks.append(self._block(start, end, current))
        return blocks

    def _extends(self, start: int, end: int, first: int, last: int) -> bool:
        """Whether the block ``start..end`` stays valid when it also takes ``first..last``."""
        new_end = max(end, last)
        if new_end == end:
            return True
        if new_end - start + 1 > self.max_len:
            return False
        if any(lo <= new_end and end < hi for lo, hi in self.forbidden):
            return False
        if any(start <= lo and hi <= new_end for lo, hi in self.refused):
            return False
        return _largest_hole(self._coverage, self._starts, end + 1, new_end) <= self.max_gap

    def _block(self, start: int, end: int, members: list[int]) -> Block:
        ordered = sorted(members)
        return Block(
            unit_id=self.unit_id,
            table=self.table,
            start=start,
            count=end - start + 1,
            members=tuple(ordered),
            offsets=tuple(self.points[i].address - start for i in ordered),
        )


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Covered address ranges, sorted and merged (touching ranges join)."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _largest_hole(coverage: list[tuple[int, int]], starts: list[int], lo: int, hi: int) -> int:
    """The longest run of addresses inside ``lo..hi`` that ``coverage`` (merged) leaves out."""
    k = max(bisect.bisect_right(starts, lo) - 1, 0)
    largest = 0
    cursor = lo
    while k < len(coverage) and coverage[k][0] <= hi:
        c_lo, c_hi = coverage[k]
        if c_lo > cursor:
            largest = max(largest, c_lo - cursor)
        cursor = max(cursor, c_hi + 1)
        k += 1
    if cursor <= hi:
        largest = max(largest, hi - cursor + 1)
    return largest
