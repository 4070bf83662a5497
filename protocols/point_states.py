"""Per-point quality state for a driver's logs: a change is logged once, a steady state never.

A point going bad (or changing its bad reason) logs one warning, coming back logs one info line;
repeating the same state logs nothing, however many samples carry it.
"""

from __future__ import annotations

from typing import Any

from .types import Quality, Sample

GOOD = "good"


class PointStates:
    """Tracks ``good`` or the bad reason of each point; ``update`` logs changes through ``log``.

    ``quiet_reasons`` are tracked but not logged per point (e.g. a connection loss, which the
    driver logs once for all its points).
    """

    def __init__(
        self, log: Any, prefix: str, *, quiet_reasons: frozenset[str] = frozenset()
    ) -> None:
        self._log = log
        self._prefix = prefix
        self._quiet = quiet_reasons
        self._states: dict[str, str] = {}

    def update(self, sample: Sample) -> None:
        state = GOOD if sample.quality is not Quality.BAD else (sample.reason or "bad")
        previous = self._states.get(sample.key)
        self._states[sample.key] = state
        if state == previous or (previous is None and state == GOOD):
            return
        if state == GOOD:
            self._log.info(f"{self._prefix}.point_back", point=sample.key)
        elif state not in self._quiet:
            self._log.warning(f"{self._prefix}.point_bad", point=sample.key, reason=state)

    def bad_points(self) -> list[str]:
        """Keys of the points whose last sample was bad, sorted."""
        return sorted(key for key, state in self._states.items() if state != GOOD)
