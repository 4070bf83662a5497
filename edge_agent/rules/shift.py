"""Which work shift a moment belongs to, for the shift TWA and the noise dose.

Shifts start at the configured local times (``ShiftConfig.starts`` in ``timezone``) and last
``length_h``; time between the end of one shift and the next start is off-shift and counts to no
dose. Local time goes through ``zoneinfo``, so a shift across a daylight-saving change keeps its
real length in hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .config import ShiftConfig


@dataclass(frozen=True, slots=True)
class Shift:
    """``[start, end)`` in POSIX seconds; ``on`` is False for the time between two shifts."""

    start: float
    end: float
    on: bool


class ShiftClock:
    def __init__(self, config: ShiftConfig) -> None:
        self.zone = ZoneInfo(config.timezone)
        self.starts = list(config.starts)
        self.length_s = config.length_h * 3600.0
        self._last: Shift | None = None

    def at(self, t: float) -> Shift:
        """The shift (or off-shift period) containing ``t``."""
        last = self._last
        if last is not None and last.start <= t < last.end:
            return last
        shift = self._compute(t)
        self._last = shift
        return shift

    def _compute(self, t: float) -> Shift:
        day = datetime.fromtimestamp(t, self.zone).date()
        candidates = sorted(
            datetime.combine(day + timedelta(days=offset), start, self.zone).timestamp()
            for offset in (-1, 0, 1)
            for start in self.starts
        )
        begun = [s for s in candidates if s <= t]
        start = begun[-1]
        end = start + self.length_s
        if t < end:
            return Shift(start, end, True)
        following = next(s for s in candidates if s > t)
        return Shift(end, following, False)
