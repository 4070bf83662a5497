"""Sensor and communication faults of each point, as raise/clear events (category ``fault``).

The quality stage (``normalize.py``) flags each reading; this rule turns those flags into fault
states, each raised once and cleared once (hse-standards.md §8.3):

    fault.ne43          NAMUR NE 43 loop failure (``ne43.fail_low`` / ``ne43.fail_high``, §8.2)
    fault.sensor        any other BAD reading (``opcua.BadSensorFailure``, ``decode.nan`` ...)
    fault.comm          no usable answer for more than 3 expected intervals (§8.3 [Q3][Q4]),
                        whether the driver reported BAD ``comm.*``/``*.timeout``/``*.disconnected``
                        or nothing arrived at all (checked in ``tick``)
    fault.flatline      the value is stuck (``flatline``)
    fault.range         the value is outside the measuring range (``range.over`` / ``range.under``)
    fault.spikes        spikes are frequent (``spike_count`` in ``spike_window_s``)
    fault.calibration   the calibration date has passed (checked in ``tick``)
    fault.bump_test     the bump-test date has passed (checked in ``tick``)

The first four make the point's values untrustworthy (``PointState.blocking_faults``): the chain
then evaluates none of its values, so no alarm is raised or cleared from a value that means
nothing. Out-of-range, spiky and overdue points are still evaluated: an over-range gas value must
alarm.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge_agent.records import ReadingRecord
from protocols.sync import EventCategory, Priority
from protocols.types import Quality

from .alarm import Alarm
from .chain import Handler, PointState
from .config import FaultSettings
from .events import Emitter

BLOCKING = frozenset({"fault.ne43", "fault.sensor", "fault.comm", "fault.flatline"})
DATED = frozenset({"fault.calibration", "fault.bump_test"})  # from dates, not from readings
PRIORITY = {
    "fault.ne43": Priority.HIGH,
    "fault.sensor": Priority.HIGH,
    "fault.comm": Priority.HIGH,
    "fault.flatline": Priority.HIGH,
    "fault.range": Priority.MEDIUM,
    "fault.spikes": Priority.LOW,
    "fault.calibration": Priority.MEDIUM,
    "fault.bump_test": Priority.MEDIUM,
}
_GOOD = Quality.GOOD
_BAD = Quality.BAD


def is_comm_reason(reason: str | None) -> bool:
    """A BAD reason that means the device did not answer, rather than that it answered badly."""
    if not reason:
        return False
    return (
        reason.startswith("comm.")
        or reason == "timeout"
        or reason.endswith((".timeout", ".disconnected", ".unreachable"))
        or "BadNoCommunication" in reason
        or "BadCommunicationError" in reason
        or "BadNotConnected" in reason
    )


def overdue_ts(due: date | None, zone: ZoneInfo) -> float | None:
    """When a due date is past: the start of the next day in the plant's time zone."""
    if due is None:
        return None
    return datetime.combine(due + timedelta(days=1), time(), zone).timestamp()


class PointFaults:
    """The fault states of one point."""

    __slots__ = (
        "active",
        "bump_due_ts",
        "calibration_due_ts",
        "comm_after_s",
        "emitter",
        "last_bad_reason",
        "last_data_ts",
        "reading_faults",
        "settings",
        "spikes",
        "state",
        "unusable",
    )

    def __init__(
        self, state: PointState, settings: FaultSettings, emitter: Emitter, zone: ZoneInfo
    ) -> None:
        self.state = state
        self.settings = settings
        self.emitter = emitter
        self.active: dict[str, tuple[str, float]] = {}  # kind -> (reason, since)
        self.reading_faults = 0  # active faults that a reading may clear
        interval = state.point.expected_interval_s
        # A report-by-exception source is silent while nothing changes: no silence check there.
        self.comm_after_s = (
            math.inf if interval is None else settings.comm_loss_intervals * interval
        )
        self.last_data_ts: float | None = None  # engine time the device last answered
        self.last_bad_reason: str | None = None
        self.spikes: deque[float] = deque()
        self.unusable = 0  # readings whose value could not be used
        self.calibration_due_ts = overdue_ts(state.point.calibration_due, zone)
        self.bump_due_ts = overdue_ts(state.point.bump_test_due, zone)

    def observe(self, reading: ReadingRecord, now: float) -> None:
        st = self.state
        st.seen_ts = now
        if reading.quality is _GOOD and not self.reading_faults and reading.value is not None:
            # The steady state: a good value, nothing to clear.
            self.last_data_ts = now
            st.usable = True
            st.value = reading.value
            st.source_ts = reading.source_ts
            return
        self._slow(reading, now)

    def _slow(self, reading: ReadingRecord, now: float) -> None:
        st = self.state
        reason = reading.reason
        value = reading.value
        if reading.quality is _BAD or value is None:
            st.usable = False
            st.value = None
            self.unusable += 1
            if reading.quality is _BAD and is_comm_reason(reason):
                self.last_bad_reason = reason
                if self.last_data_ts is None:
                    self.last_data_ts = now
                if "fault.comm" not in self.active and now - self.last_data_ts > self.comm_after_s:
                    self._raise("fault.comm", reason or "comm", now, None)
                return
            self.last_data_ts = now
            self._clear("fault.comm", now, None)
            if reason and reason.startswith("ne43.fail_"):
                if not reason.endswith(".pending"):
                    self._set("fault.ne43", reason, now, None)
                self._clear("fault.sensor", now, None)
                return
            self._clear("fault.ne43", now, None)
            if reading.quality is _BAD:
                self._set("fault.sensor", reason or "bad", now, None)
            else:
                self._clear("fault.sensor", now, None)
            return
        self.last_data_ts = now
        for kind in ("fault.comm", "fault.ne43", "fault.sensor"):
            self._clear(kind, now, value)
        if reason == "flatline":
            self._set("fault.flatline", reason, now, value)
        else:
            self._clear("fault.flatline", now, value)
        if reason == "range.over" or reason == "range.under":
            self._set("fault.range", reason, now, value)
        else:
            self._clear("fault.range", now, value)
        if reason == "spike":
            self._count_spike(now, value)
        usable = not st.blocking_faults
        st.usable = usable
        st.value = value if usable else None
        if usable:
            st.source_ts = reading.source_ts
        else:
            self.unusable += 1

    def _count_spike(self, now: float, value: float) -> None:
        spikes = self.spikes
        spikes.append(now)
        horizon = now - self.settings.spike_window_s
        while spikes and spikes[0] <= horizon:
            spikes.popleft()
        if len(spikes) >= self.settings.spike_count:
            self._set(
                "fault.spikes",
                f"{len(spikes)} spikes in {self.settings.spike_window_s:g} s",
                now,
                value,
            )

    def tick(self, now: float) -> None:
        if self.last_data_ts is None:
            self.last_data_ts = now  # the engine's first moment: no reading expected before it
        if "fault.comm" not in self.active and now - self.last_data_ts > self.comm_after_s:
            self.state.usable = False
            self.state.value = None
            self._raise("fault.comm", self.last_bad_reason or "no_data", now, None)
        if "fault.spikes" in self.active:
            horizon = now - self.settings.spike_window_s
            while self.spikes and self.spikes[0] <= horizon:
                self.spikes.popleft()
            if len(self.spikes) < self.settings.spike_count:
                self._clear("fault.spikes", now, None)
        if self.calibration_due_ts is not None and now >= self.calibration_due_ts:
            self._set("fault.calibration", "calibration overdue", now, None)
        if self.bump_due_ts is not None and now >= self.bump_due_ts:
            self._set("fault.bump_test", "bump test overdue", now, None)

    # -- transitions -------------------------------------------------------------------------

    def _set(self, kind: str, reason: str, now: float, value: float | None) -> None:
        """Raise ``kind``, or re-raise it when the reason changed (low -> high, over -> under)."""
        current = self.active.get(kind)
        if current is not None:
            if current[0] == reason or kind == "fault.spikes":
                return
            self._clear(kind, now, value)
        self._raise(kind, reason, now, value)

    def _raise(self, kind: str, reason: str, now: float, value: float | None) -> None:
        self.active[kind] = (reason, now)
        if kind not in DATED:
            self.reading_faults += 1
        if kind in BLOCKING:
            self.state.blocking_faults.add(kind)
        self._emit(kind, "raise", reason, now, value)

    def _clear(self, kind: str, now: float, value: float | None) -> None:
        current = self.active.pop(kind, None)
        if current is None:
            return
        if kind not in DATED:
            self.reading_faults -= 1
        self.state.blocking_faults.discard(kind)
        self._emit(kind, "clear", current[0], now, value)

    def _emit(
        self, kind: str, transition: str, reason: str, now: float, value: float | None
    ) -> None:
        point = self.state.point
        self.emitter.emit(
            EventCategory.FAULT,
            kind,
            transition,
            now,
            point=point.point_id,
            state="fault" if transition == "raise" else "ok",
            priority=PRIORITY[kind],
            value=value,
            message=f"{kind} {transition}: {reason}",
            details={
                "reason": reason,
                "device_id": point.device_id,
                "device_serial": point.device_serial,
            },
        )


class FaultRule:
    """Sensor, loop and communication faults; calibration and bump-test dates."""

    name = "faults"

    def __init__(self, settings: FaultSettings, emitter: Emitter, zone: ZoneInfo) -> None:
        self.settings = settings
        self.emitter = emitter
        self.zone = zone
        self.points: list[PointFaults] = []

    def attach(self, state: PointState) -> Handler | None:
        tracker = PointFaults(state, self.settings, self.emitter, self.zone)
        self.points.append(tracker)
        return tracker.observe

    def tick(self, now: float) -> None:
        for tracker in self.points:
            tracker.tick(now)

    def alarms(self) -> Iterable[Alarm]:
        return ()
