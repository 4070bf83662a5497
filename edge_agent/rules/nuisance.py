"""Monitors that watch the alarm events themselves: chattering, flood and stale alarms
(hse-standards.md §1.3). Each reports as raise/clear events and counts its episodes.

    alarm.chattering  (category alarm)   one alarm activated 3+ times within 60 s [A7]
    alarm.flood       (category system)  more than 10 annunciated activations within 10 min
                                         across the plant [A5][A6][A8]; ends at 5 or fewer
    alarm.stale       (category alarm)   one alarm active for more than 24 h [A12][A11]

They see every alarm activation, including those of shelved or suppressed alarms for chattering
(a chattering alarm is what gets shelved); the flood counts only annunciated ones, because a
flood is what the operator has to face.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Protocol

from edge_agent.records import EventRecord
from protocols.sync import EventCategory, Priority

from .alarm import Alarm
from .config import AlarmSettings
from .events import Emitter

_WATCHED = (EventCategory.ALARM, EventCategory.EXPOSURE)


def _activation(event: EventRecord) -> str | None:
    """The alarm id of an alarm activation event, else None."""
    if event.transition != "raise" or event.category not in _WATCHED:
        return None
    alarm_id = event.details.get("alarm_id")
    return alarm_id if isinstance(alarm_id, str) else None


class Monitor(Protocol):
    name: str

    def observe(self, events: Sequence[EventRecord], now: float) -> None: ...

    def tick(self, now: float) -> None: ...


class ChatteringMonitor:
    name = "chattering"

    def __init__(self, settings: AlarmSettings, emitter: Emitter) -> None:
        self.count = settings.chattering_count
        self.window_s = settings.chattering_window_s
        self.emitter = emitter
        self.history: dict[str, deque[float]] = {}
        self.points: dict[str, str | None] = {}
        self.chattering: set[str] = set()
        self.episodes = 0

    def observe(self, events: Sequence[EventRecord], now: float) -> None:
        for event in events:
            alarm_id = _activation(event)
            if alarm_id is None:
                continue
            times = self.history.setdefault(alarm_id, deque())
            times.append(event.ts)
            self.points[alarm_id] = event.point
            self._evict(times, event.ts)
            if len(times) >= self.count and alarm_id not in self.chattering:
                self.chattering.add(alarm_id)
                self.episodes += 1
                self._emit(alarm_id, "raise", event.ts, len(times))

    def _evict(self, times: deque[float], now: float) -> None:
        horizon = now - self.window_s
        while times and times[0] <= horizon:
            times.popleft()

    def tick(self, now: float) -> None:
        for alarm_id in list(self.history):
            times = self.history[alarm_id]
            self._evict(times, now)
            if alarm_id in self.chattering and len(times) < self.count:
                self.chattering.discard(alarm_id)
                self._emit(alarm_id, "clear", now, len(times))
            if not times:
                del self.history[alarm_id]

    def _emit(self, alarm_id: str, transition: str, ts: float, count: int) -> None:
        self.emitter.emit(
            EventCategory.ALARM,
            "alarm.chattering",
            transition,
            ts,
            point=self.points.get(alarm_id),
            state="chattering" if transition == "raise" else "normal",
            priority=Priority.LOW,
            message=f"{alarm_id}: {count} activations within {self.window_s:g} s",
            details={"alarm_id": alarm_id, "activations": count, "window_s": self.window_s},
        )


class FloodMonitor:
    name = "flood"

    def __init__(self, settings: AlarmSettings, emitter: Emitter) -> None:
        self.count = settings.flood_count
        self.clear_count = settings.flood_clear_count
        self.window_s = settings.flood_window_s
        self.emitter = emitter
        self.times: deque[float] = deque()
        self.in_flood = False
        self.episodes = 0

    def observe(self, events: Sequence[EventRecord], now: float) -> None:
        for event in events:
            if _activation(event) is None or not event.details.get("annunciated", False):
                continue
            self.times.append(event.ts)
            self._evict(event.ts)
            if len(self.times) > self.count and not self.in_flood:
                self.in_flood = True
                self.episodes += 1
                self._emit("raise", event.ts)

    def _evict(self, now: float) -> None:
        horizon = now - self.window_s
        while self.times and self.times[0] <= horizon:
            self.times.popleft()

    def tick(self, now: float) -> None:
        self._evict(now)
        if self.in_flood and len(self.times) <= self.clear_count:
            self.in_flood = False
            self._emit("clear", now)

    def _emit(self, transition: str, ts: float) -> None:
        n = len(self.times)
        self.emitter.emit(
            EventCategory.SYSTEM,
            "alarm.flood",
            transition,
            ts,
            state="flood" if transition == "raise" else "normal",
            priority=Priority.HIGH,
            message=f"{n} alarms within {self.window_s / 60:g} min",
            details={"alarms_in_window": n, "window_s": self.window_s, "threshold": self.count},
        )


class StaleMonitor:
    name = "stale"

    def __init__(
        self, settings: AlarmSettings, emitter: Emitter, alarms: Mapping[str, Alarm]
    ) -> None:
        self.after_s = settings.stale_after_s
        self.emitter = emitter
        self.alarms = alarms
        self.stale: dict[str, float] = {}  # alarm id -> activation time it went stale for

    def observe(self, events: Sequence[EventRecord], now: float) -> None:
        return None

    def tick(self, now: float) -> None:
        for alarm_id, activated in list(self.stale.items()):
            alarm = self.alarms[alarm_id]
            if not alarm.active or alarm.activated_ts != activated:
                del self.stale[alarm_id]
                self._emit(alarm, "clear", now)
        for alarm in self.alarms.values():
            started = alarm.activated_ts
            if (
                alarm.active
                and started is not None
                and now - started >= self.after_s
                and alarm.alarm_id not in self.stale
            ):
                self.stale[alarm.alarm_id] = started
                self._emit(alarm, "raise", now)

    def _emit(self, alarm: Alarm, transition: str, ts: float) -> None:
        self.emitter.emit(
            EventCategory.ALARM,
            "alarm.stale",
            transition,
            ts,
            point=alarm.point,
            state="stale" if transition == "raise" else "normal",
            priority=Priority.LOW,
            message=f"{alarm.alarm_id} active for more than {self.after_s / 3600:g} h"
            if transition == "raise"
            else f"{alarm.alarm_id} no longer stale",
            details={"alarm_id": alarm.alarm_id, "activated_ts": alarm.activated_ts},
        )
