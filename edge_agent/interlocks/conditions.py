"""Evaluate interlock conditions against the safety engine's current state (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .config import AlarmLeaf, AllOf, AnyOf, ExposureLeaf, FaultLeaf, NotOf, ZoneAlarmLeaf, leaves


class SafetyView(Protocol):
    """What conditions may ask of the rules engine's state."""

    def alarm_active(self, ref: str) -> bool:
        """An alarm id (``point:hh``) or a point id (any of its alarms) is active or latched."""

    def point_faulted(self, point: str) -> bool:
        """The point is in fault (bad data, comm loss, NE 43 failure): its value cannot be trusted."""

    def exposure_exceeded(self, point: str, kind: str) -> bool:
        """An exposure limit (stel, twa, ceiling, or any) of the point is exceeded."""

    def zone_alarm(self, zone: str, quantity: str | None, min_priority: str) -> bool:
        """Any alarm of ``quantity`` (any, if None) in ``zone`` at or above ``min_priority`` is active."""


def evaluate(cond: Any, view: SafetyView) -> bool:
    match cond:
        case AnyOf():
            return any(evaluate(c, view) for c in cond.any)
        case AllOf():
            return all(evaluate(c, view) for c in cond.all)
        case NotOf():
            return not evaluate(cond.not_, view)
        case AlarmLeaf():
            return view.alarm_active(cond.alarm)
        case FaultLeaf():
            return view.point_faulted(cond.fault)
        case ExposureLeaf():
            return view.exposure_exceeded(cond.exposure, cond.kind)
        case ZoneAlarmLeaf():
            z = cond.zone_alarm
            return view.zone_alarm(z.zone, z.quantity, z.min_priority)
    raise TypeError(f"not a condition: {cond!r}")


def point_of(ref: str) -> str:
    """``plant/dev/pt:hh`` -> ``plant/dev/pt``; a point id is its own point."""
    return ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref


@dataclass(frozen=True)
class Inputs:
    """The points a condition reads, and those it watches for faults itself."""

    measured: frozenset[str]
    fault_watched: frozenset[str]

    @classmethod
    def of(cls, cond: Any) -> Inputs:
        measured, watched = set(), set()
        for leaf in leaves(cond):
            if isinstance(leaf, AlarmLeaf):
                measured.add(point_of(leaf.alarm))
            elif isinstance(leaf, ExposureLeaf):
                measured.add(leaf.exposure)
            elif isinstance(leaf, FaultLeaf):
                watched.add(leaf.fault)
        return cls(frozenset(measured), frozenset(watched))

    def lost(self, view: SafetyView) -> bool:
        """Inputs are lost when a measured point is in fault and the rule does not handle that fault itself."""
        return any(view.point_faulted(p) for p in self.measured - self.fault_watched)
