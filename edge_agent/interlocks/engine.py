"""Decide interlock outputs from the safety state, and the people + environment (access) rule.

``InterlockEngine.evaluate(view, now)`` is called after every batch of readings has gone
through the rules engine (and on its tick). It is synchronous and cheap: it computes what each
allowed output should be and hands changes to the PLC writers, which apply them in their own
tasks. Several rules may drive one output; if any of them asks for the output's safe value, the
safe value wins. A rule whose inputs are lost drives its ``on_input_loss`` value (default: the
output's safe value).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from edge_agent.records import EventRecord
from protocols.sync import EventCategory, Priority

from .conditions import Inputs, SafetyView, evaluate
from .config import AccessRule, InterlockRule, InterlocksConfig, Value
from .writer import PlcWriter

Qualifications = Mapping[str, Mapping[str, date]]  # person -> qualification -> expiry date


@dataclass
class _RuleState:
    rule: InterlockRule
    inputs: Inputs
    active: bool | None = None
    lost: bool = False


@dataclass(frozen=True)
class BadgeEvent:
    person: str
    zone: str
    ts: float
    badge: str = ""


class InterlockEngine:
    def __init__(
        self,
        config: InterlocksConfig,
        writers: Mapping[str, PlcWriter],
        *,
        plant_id: str,
        qualifications: Callable[[], Qualifications] = dict,
    ) -> None:
        self.config = config
        self.writers = writers
        self.plant_id = plant_id
        self._qualifications = qualifications
        self._rules = [_RuleState(r, Inputs.of(r.when)) for r in config.rules]
        self._safe = {(o.plc, o.point): o.safe for o in config.outputs}
        self.denials = 0

    def evaluate(self, view: SafetyView, now: float) -> list[EventRecord]:
        events: list[EventRecord] = []
        wanted: dict[tuple[str, str], tuple[Value, str]] = {}
        for state in self._rules:
            rule = state.rule
            key = (rule.then.plc, rule.then.point)
            safe = self._safe[key]
            lost = state.inputs.lost(view)
            active = evaluate(rule.when, view)
            value: Value | None
            if lost:
                value, cause = (
                    (rule.on_input_loss if rule.on_input_loss is not None else safe),
                    f"{rule.id}: inputs lost",
                )
            elif active:
                value, cause = rule.then.value, f"{rule.id}: condition true"
            else:
                value, cause = rule.otherwise, f"{rule.id}: condition false"
            if lost != state.lost:
                events.append(
                    self._rule_event(rule, "input_loss" if lost else "input_back", now, value)
                )
            elif (active != state.active) if state.active is not None else active:
                events.append(self._rule_event(rule, "trip" if active else "reset", now, value))
            state.active, state.lost = active, lost
            if value is None:
                continue
            previous = wanted.get(key)
            if previous is None or (value == safe and previous[0] != safe):
                wanted[key] = (value, cause)
        for (plc, point), (value, cause) in wanted.items():
            self.writers[plc].request(point, value, cause)
        return events

    def on_badge(self, badge: BadgeEvent, view: SafetyView, now: float) -> list[EventRecord]:
        """A person badges into a zone: deny entry when the zone is in alarm and they lack the qualification."""
        events = []
        held = self._qualifications().get(badge.person, {})
        today = datetime.fromtimestamp(badge.ts, UTC).date()
        for rule in self.config.access:
            if rule.zone != badge.zone or not evaluate(rule.when, view):
                continue
            expiry = held.get(rule.qualification)
            if expiry is not None and expiry >= today:
                continue
            why = "has no record of" if expiry is None else f"has an expired ({expiry.isoformat()})"
            self.writers[rule.deny.plc].request(
                rule.deny.point, rule.deny.value, f"access {rule.zone}: {badge.person}"
            )
            self.denials += 1
            events.append(
                self._access_event(rule, badge, now, f"{badge.person} {why} {rule.qualification}")
            )
        return events

    def _rule_event(
        self, rule: InterlockRule, transition: str, now: float, value: Value | None
    ) -> EventRecord:
        return EventRecord(
            event_id=uuid.uuid4().hex,
            category=EventCategory.INTERLOCK,
            kind=f"interlock.{rule.id}",
            transition=transition,
            ts=now,
            point=f"{self.plant_id}/{rule.then.plc}/{rule.then.point}",
            priority=Priority.HIGH if transition in ("trip", "input_loss") else None,
            value=float(value) if value is not None else None,
            message=f"interlock {rule.id}: {transition}",
        )

    def _access_event(
        self, rule: AccessRule, badge: BadgeEvent, now: float, why: str
    ) -> EventRecord:
        return EventRecord(
            event_id=uuid.uuid4().hex,
            category=EventCategory.ALARM,
            kind="access.denied",
            transition="raise",
            ts=now,
            point=f"{self.plant_id}/{rule.deny.plc}/{rule.deny.point}",
            priority=Priority.HIGH,
            message=f"entry to {rule.zone} denied: {why} while the zone is in alarm",
            details={
                "zone": rule.zone,
                "person": badge.person,
                "qualification": rule.qualification,
            },
        )
