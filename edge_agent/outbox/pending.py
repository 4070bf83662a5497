"""A batch taken from the outbox: wire models ready for a ``Batch``, and their seqs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from protocols.sync import (
    AlarmEvent,
    CommandResult,
    Gap,
    Lane,
    Reading,
    ReadingAggregate,
    seq_ranges,
)

Record = Reading | ReadingAggregate | AlarmEvent | Gap | CommandResult


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """Records taken by ``Outbox.take``: in flight until acked (deleted) or released.

    A sub-batch made by ``split`` or ``from_records`` shares the in-flight state of its parent:
    acking a sub-batch's ranges deletes those records, releasing the parent releases the rest.
    """

    lane: Lane
    readings: tuple[Reading, ...] = ()
    aggregates: tuple[ReadingAggregate, ...] = ()
    events: tuple[AlarmEvent, ...] = ()
    gaps: tuple[Gap, ...] = ()
    command_results: tuple[CommandResult, ...] = ()

    @classmethod
    def from_records(cls, lane: Lane, records: Iterable[Record]) -> PendingBatch:
        readings: list[Reading] = []
        aggregates: list[ReadingAggregate] = []
        events: list[AlarmEvent] = []
        gaps: list[Gap] = []
        results: list[CommandResult] = []
        for record in records:
            if isinstance(record, Reading):
                readings.append(record)
            elif isinstance(record, ReadingAggregate):
                aggregates.append(record)
            elif isinstance(record, AlarmEvent):
                events.append(record)
            elif isinstance(record, Gap):
                gaps.append(record)
            else:
                results.append(record)
        return cls(
            lane, tuple(readings), tuple(aggregates), tuple(events), tuple(gaps), tuple(results)
        )

    def records(self) -> list[Record]:
        """Every record, in seq order."""
        every: list[Record] = [
            *self.readings,
            *self.aggregates,
            *self.events,
            *self.gaps,
            *self.command_results,
        ]
        every.sort(key=lambda r: r.seq)
        return every

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in self.records()]

    def record_count(self) -> int:
        return (
            len(self.readings)
            + len(self.aggregates)
            + len(self.events)
            + len(self.gaps)
            + len(self.command_results)
        )

    def ranges(self) -> list[tuple[int, int]]:
        """The seqs as sorted inclusive ranges (what central acks)."""
        return seq_ranges(self.seqs)

    def split(self) -> tuple[PendingBatch, PendingBatch]:
        """Two halves in seq order (for a batch central found too large, or to isolate a bad record)."""
        every = self.records()
        half = len(every) // 2
        return (
            PendingBatch.from_records(self.lane, every[:half]),
            PendingBatch.from_records(self.lane, every[half:]),
        )
