"""The shape every rule has: per-point state shared along the chain, and the ``Rule`` protocol.

The engine keeps a visible list of rules (``engine.DEFAULT_RULES``). Each rule ``attach``-es to
every point it applies to and returns that point's handler (a bound method of a small per-point
object holding precomputed limits and running state), or None. A reading then runs through its
point's handlers in list order, like structlog's processor chain; the fault rule comes first and
decides whether the reading's value can be used at all (``PointState.usable``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from edge_agent.records import ReadingRecord

from .alarm import Alarm
from .points import RulePoint

Handler = Callable[[ReadingRecord, float], None]
"""A point's handler: ``handler(reading, now)``; events go to the rule's emitter."""


@dataclass(slots=True, eq=False)
class PointState:
    """What the rules of one point share: is its latest value usable, and is the point in fault.

    ``usable`` is False for a BAD reading, a reading without a value (NE 43 transition band) and
    any reading while a fault that makes values untrustworthy (flatline, loop failure, comm loss,
    sensor failure) is active: such a value is never evaluated, so it can neither raise nor clear
    an alarm, and snapshots show no value for it.
    """

    point: RulePoint
    point_id: str = ""
    usable: bool = False
    value: float | None = None  # latest usable value; None when the latest reading was not usable
    source_ts: float | None = None  # of the latest usable value
    seen_ts: float | None = None  # engine time of the latest reading of any quality
    blocking_faults: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.point_id = self.point.point_id

    @property
    def trusted(self) -> bool:
        """False while a fault makes the point's condition unknown."""
        return not self.blocking_faults

    @property
    def condition(self) -> str:
        """``fault``, ``unknown`` (no usable value yet or the latest one was not usable) or ``ok``."""
        if self.blocking_faults:
            return "fault"
        return "ok" if self.usable else "unknown"


class Rule(Protocol):
    """One rule of the chain."""

    name: str

    def attach(self, state: PointState) -> Handler | None:
        """The handler of this rule for ``state.point``, or None if the rule does not apply."""
        ...

    def tick(self, now: float) -> None:
        """Time-driven work: timers, expiries, projections, fits (each at a bounded rate)."""
        ...

    def alarms(self) -> Iterable[Alarm]:
        """The ISA-18.2 alarms this rule owns (may be none)."""
        ...
