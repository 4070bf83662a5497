"""Local safety: the rules engine and the interlocks, wired to the pipeline, a clock and the outbox.

``Safety.on_readings`` is the pipeline's first consumer: rules run on every batch before the
readings are stored, interlock outputs are decided at once and handed to the PLC writers (which
never block this path), and the resulting events are queued for the outbox. ``run()`` ticks the
rules once a second (delays, shelve expiry, comm loss, calibration due, exposure projection,
trend fits) and writes queued events to the outbox, in order, durably.

Alarm actions reach the engine from three places, all through ``act``: the local status API,
``hse-edge alarms`` (which calls that API), and central through the sync response.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from protocols.sync import Command, CommandKind, EventCategory

from .interlocks import BadgeEvent, InterlockEngine, PlcWriter
from .plant import ResolvedPlant
from .records import EventRecord, ReadingRecord
from .rules import AlarmAction, RuleEngine, RulesError, rule_points

log = structlog.get_logger("edge_agent.safety")

TICK_S = 1.0
_PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_EXPOSURE_KINDS = ("stel", "twa", "ceiling")


class EventSink(Protocol):
    async def add_event(self, event: EventRecord) -> int: ...


class EngineView:
    """The rules engine's state as interlock conditions see it (the ``SafetyView`` protocol)."""

    def __init__(self, engine: RuleEngine, zones: Mapping[str, tuple[str | None, str]]) -> None:
        self.engine = engine
        self.zones = zones  # point id -> (zone, quantity)
        self._by_point: dict[str, list[str]] = {}
        for snap in engine.alarms():
            if snap.point is not None:
                self._by_point.setdefault(snap.point, []).append(snap.alarm_id)

    def _active(self, alarm_id: str) -> bool:
        try:
            snap = self.engine.alarm(alarm_id)
        except RulesError:
            return False
        return snap.active or snap.latched

    def alarm_active(self, ref: str) -> bool:
        if ref in self._by_point:
            return any(
                self._active(a)
                for a in self._by_point[ref]
                if a.split(":")[-1] in ("hh", "h", "l", "ll")
            )
        return self._active(ref)

    def point_faulted(self, point: str) -> bool:
        return any(f.blocking for f in self.engine.faults_of(point))

    def exposure_exceeded(self, point: str, kind: str) -> bool:
        kinds = _EXPOSURE_KINDS if kind == "any" else (kind,)
        return any(
            self._active(f"{point}:{k}")
            for k in kinds
            if f"{point}:{k}" in self._by_point.get(point, ())
        )

    def zone_alarm(self, zone: str, quantity: str | None, min_priority: str) -> bool:
        floor = _PRIORITY_RANK[min_priority]
        for point, (point_zone, point_quantity) in self.zones.items():
            if point_zone != zone or (quantity is not None and point_quantity != quantity):
                continue
            for alarm_id in self._by_point.get(point, ()):
                snap = self.engine.alarm(alarm_id)
                if (snap.active or snap.latched) and _PRIORITY_RANK.get(snap.priority, 0) >= floor:
                    return True
        return False


class Personnel:
    """Qualifications with expiry dates, by person id; from a CSV file and from central.

    Kept in a JSON file beside the outbox, so a restart without the uplink still knows them. Only
    person ids, qualification names and dates are kept at the edge: no names or health data.
    """

    def __init__(self, state_file: Path, csv_file: Path | None = None) -> None:
        self.state_file = state_file
        self.records: dict[str, dict[str, date]] = {}
        if state_file.exists():
            self._load_json(state_file)
        if csv_file is not None:
            self.load_csv(csv_file)

    def __call__(self) -> Mapping[str, Mapping[str, date]]:
        return self.records

    def _load_json(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.records = {
            p: {q: date.fromisoformat(d) for q, d in quals.items()} for p, quals in data.items()
        }

    def load_csv(self, path: Path) -> int:
        """Columns ``person_id,qualification,expires`` (ISO date); a bad row names its line."""
        import csv

        loaded: dict[str, dict[str, date]] = {}
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"person_id", "qualification", "expires"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: header lacks {sorted(missing)}")
            for row in reader:
                try:
                    expires = date.fromisoformat(row["expires"].strip())
                except ValueError:
                    raise ValueError(
                        f"{path}:{reader.line_num}: expires={row['expires']!r} is not a date"
                    ) from None
                loaded.setdefault(row["person_id"].strip(), {})[row["qualification"].strip()] = (
                    expires
                )
        self.replace(loaded)
        return len(loaded)

    def replace(self, records: dict[str, dict[str, date]]) -> None:
        self.records = records
        tmp = self.state_file.with_suffix(".tmp")
        data = {p: {q: d.isoformat() for q, d in quals.items()} for p, quals in records.items()}
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.state_file)

    def apply_sync(self, payload: Mapping[str, Any]) -> int:
        """A ``personnel.sync`` command: ``{"records": [{"person_id", "qualification", "expires"}]}``."""
        records: dict[str, dict[str, date]] = {}
        for i, row in enumerate(payload.get("records", [])):
            try:
                records.setdefault(str(row["person_id"]), {})[str(row["qualification"])] = (
                    date.fromisoformat(str(row["expires"]))
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(f"records[{i}]: {exc}") from None
        self.replace(records)
        return len(records)


class Safety:
    def __init__(
        self,
        plant: ResolvedPlant,
        events: EventSink,
        *,
        wall_clock: Callable[[], float] = time.time,
        driver_factory: Callable[..., Any] | None = None,
    ) -> None:
        cfg = plant.config
        self.plant = plant
        self.sink = events
        self._wall = wall_clock
        self.engine = RuleEngine(
            rule_points(plant.points()), plant.rules, plant.limit_set, plant_id=cfg.plant_id
        )
        zones = {pid: (d.entry.zone, p.quantity) for pid, d, p in plant.points()}
        self.view = EngineView(self.engine, zones)
        state_dir = Path(cfg.outbox.path).parent
        csv_file = (
            Path(cfg.interlocks.qualifications_csv) if cfg.interlocks.qualifications_csv else None
        )
        self.personnel = Personnel(state_dir / "personnel.json", csv_file)
        kwargs: dict[str, Any] = {"driver_factory": driver_factory} if driver_factory else {}
        self.writers = {
            plc.id: PlcWriter(
                plc,
                cfg.interlocks,
                self._emit,
                plant_id=cfg.plant_id,
                wall_clock=wall_clock,
                **kwargs,
            )
            for plc in plant.plcs
            if any(o.plc == plc.id for o in cfg.interlocks.outputs)
            or (cfg.interlocks.heartbeat and cfg.interlocks.heartbeat.plc == plc.id)
        }
        self.interlocks = InterlockEngine(
            cfg.interlocks, self.writers, plant_id=cfg.plant_id, qualifications=self.personnel
        )
        self._queue: asyncio.Queue[EventRecord] = (
            asyncio.Queue()
        )  # unbounded on purpose: events are never dropped
        self.events_written = 0

    def now(self) -> float:
        return self._wall()

    def events_pending(self) -> int:
        """Events decided but not yet stored in the outbox."""
        return self._queue.qsize()

    def _emit(self, event: EventRecord) -> None:
        self._queue.put_nowait(event)

    def _emit_all(self, events: list[EventRecord]) -> None:
        for event in events:
            self._queue.put_nowait(event)

    async def on_readings(self, readings: list[ReadingRecord]) -> None:
        """Pipeline consumer: rules, then interlocks, at once; storage happens in ``run``."""
        now = self._wall()
        events = self.engine.process(readings, now)
        if events:  # interlock inputs only change when the rules report a transition
            self._emit_all(events)
            self._emit_all(self.interlocks.evaluate(self.view, now))

    def on_badge(self, badge: BadgeEvent) -> None:
        self._emit_all(self.interlocks.on_badge(badge, self.view, self._wall()))

    async def run(self) -> None:
        """Ticks the rules, runs the PLC writers and stores events, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for plc_id, writer in self.writers.items():
                tg.create_task(writer.run(), name=f"plc[{plc_id}]")
            tg.create_task(self._ticker(), name="rules-tick")
            tg.create_task(self._store(), name="events-store")

    async def _ticker(self) -> None:
        self._emit_all(self.interlocks.evaluate(self.view, self._wall()))  # initial outputs
        while True:
            await asyncio.sleep(TICK_S)
            now = self._wall()
            self._emit_all(self.engine.tick(now))
            self._emit_all(self.interlocks.evaluate(self.view, now))

    async def _store(self) -> None:
        while True:
            event = await self._queue.get()
            await self.sink.add_event(event)
            self.events_written += 1

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Store every queued event (shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not self._queue.empty():
                    await self.sink.add_event(self._queue.get_nowait())
                    self.events_written += 1

    def act(
        self,
        action: str,
        *,
        alarm_id: str,
        actor: str,
        reason: str = "",
        until: float | None = None,
    ) -> list[EventRecord]:
        """An operator action on an alarm; raises ``RulesError`` subclasses with a clear message."""
        now = self._wall()
        events = self.engine.command(AlarmAction(action), alarm_id=alarm_id, actor=actor, now=now, reason=reason,
                                     until=until)  # fmt: skip
        self._emit_all(events)
        self._emit_all(self.interlocks.evaluate(self.view, now))
        return events

    async def on_command(self, command: Command) -> tuple[bool, str]:
        """Commands from central, delivered in the sync response."""
        payload = command.payload
        try:
            if command.kind is CommandKind.PERSONNEL_SYNC:
                n = self.personnel.apply_sync(payload)
                return True, f"{n} person(s) with qualifications loaded"
            if command.kind is CommandKind.ALARM_COMMENT:
                self.comment(
                    str(payload["alarm_id"]),
                    f"central:{command.issued_by}",
                    str(payload.get("text", "")),
                )
                return True, "comment recorded"
            action = {
                CommandKind.ALARM_ACK: "ack",
                CommandKind.ALARM_SHELVE: "shelve",
                CommandKind.ALARM_UNSHELVE: "unshelve",
                CommandKind.ALARM_RESET: "reset",
            }.get(command.kind)
            if action is None:
                return False, f"command {command.kind.value} is not handled at the edge"
            until = payload.get("until")
            until_ts = (
                datetime.fromisoformat(until).timestamp() if isinstance(until, str) else until
            )
            events = self.act(
                action,
                alarm_id=str(payload["alarm_id"]),
                actor=f"central:{command.issued_by}",
                reason=str(payload.get("reason", "")),
                until=until_ts,
            )
            return True, f"{action} applied: {len(events)} transition(s)"
        except (RulesError, ValueError, KeyError) as exc:
            return False, str(exc)

    def comment(self, alarm_id: str, actor: str, text: str) -> EventRecord:
        """A comment on an alarm: an event that changes no state (the log of who said what)."""
        snap = self.engine.alarm(alarm_id)  # raises UnknownAlarmError for an unknown id
        if not text.strip():
            raise ValueError("a comment needs text")
        event = EventRecord(
            event_id=uuid.uuid4().hex,
            category=EventCategory(snap.category),
            kind=snap.kind,
            transition="comment",
            ts=self._wall(),
            point=snap.point,
            state=snap.state,
            actor=actor,
            message=text[:2000],
            details={"alarm_id": alarm_id},
        )
        self._emit(event)
        return event

    def alarm_rows(self) -> list[dict[str, Any]]:
        return [a.as_dict() for a in self.engine.alarms()]

    def snapshot(self) -> dict[str, Any]:
        return {
            "alarms": [
                a.as_dict() for a in self.engine.alarms() if a.state != "normal" or a.latched
            ],
            "faults": [f.as_dict() for f in self.engine.faults()],
            "exposure": [e.as_dict() for e in self.engine.exposure()],
            "predictions": [p.as_dict() for p in self.engine.predictions() if p.active],
            "interlock_outputs": [
                dataclasses.asdict(o) for w in self.writers.values() for o in w.outputs()
            ],
            "statistics": self.engine.statistics().as_dict(),
            "ts": datetime.fromtimestamp(self._wall(), UTC).isoformat(),
        }


__all__ = ["EngineView", "Personnel", "Safety"]
