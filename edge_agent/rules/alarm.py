"""One alarm's ISA-18.2 state machine (hse-standards.md §1.1), driven by a condition and by
operator actions.

The state is kept as OPC UA Part 9's orthogonal sub-states [A1]: active, acknowledged, latched,
plus the shelved / suppressed / out-of-service overlays. ``state()`` folds them into one ISA
state (letters from §1.1):

    A normal            not active, acked, not latched
    B active_unacked    active, unacked                    annunciated, flashing
    C active_acked      active, acked                      -> A when the condition clears
    D rtn_unacked       not active, unacked                -> A on ack
    E latched_unacked   condition cleared, unacked         -> F on ack; only reset leaves F
    F latched_acked     condition cleared, acked           -> A on reset
    G shelved           overlay, time-limited; shelving acks an unacked alarm and resets a latch
    H suppressed        overlay, set by plant logic (e.g. device in maintenance)
    I out_of_service    overlay, set by an authorised maintenance procedure

Overlays do not stop evaluation (OPC UA Part 9 [A1]): a shelved alarm still raises and clears,
and those transitions are still events, only not annunciated. Every transition emits exactly one
event whose ``state`` is the ISA state after it and whose details carry every sub-state.

Timing (OPC UA Part 9 Annex B.1.5 [A2]): the condition must persist ``on_delay_s`` before the
alarm activates, the alarm is held ``off_delay_s`` after the condition clears; the deadband is the
caller's hysteresis (``limits.py``). ``re_alarm_s``: an acknowledged alarm still active after this
long goes back to unacknowledged.
"""

from __future__ import annotations

import enum
from typing import Any, NoReturn

from protocols.sync import EventCategory, Priority

from .errors import AlarmActionError
from .events import Emitter


class AlarmState(enum.StrEnum):
    NORMAL = "normal"  # A
    ACTIVE_UNACKED = "active_unacked"  # B
    ACTIVE_ACKED = "active_acked"  # C
    RTN_UNACKED = "rtn_unacked"  # D
    LATCHED_UNACKED = "latched_unacked"  # E
    LATCHED_ACKED = "latched_acked"  # F
    SHELVED = "shelved"  # G
    SUPPRESSED = "suppressed"  # H
    OUT_OF_SERVICE = "out_of_service"  # I


class AlarmAction(enum.StrEnum):
    """What an operator (or plant logic, for suppress) may do to an alarm."""

    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    RESET = "reset"
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    OUT_OF_SERVICE = "out_of_service"
    RETURN_TO_SERVICE = "return_to_service"


class Transition(enum.StrEnum):
    """The ``transition`` of an alarm event: each action's own name plus the condition's."""

    RAISE = "raise"
    CLEAR = "clear"
    RE_ALARM = "re_alarm"
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    RESET = "reset"
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    OUT_OF_SERVICE = "out_of_service"
    RETURN_TO_SERVICE = "return_to_service"


_A, _B, _C, _D, _E, _F = (
    AlarmState.NORMAL,
    AlarmState.ACTIVE_UNACKED,
    AlarmState.ACTIVE_ACKED,
    AlarmState.RTN_UNACKED,
    AlarmState.LATCHED_UNACKED,
    AlarmState.LATCHED_ACKED,
)


class Alarm:
    """One alarm (``<point>:hh``, ``<point>:stel`` ...) with its ISA-18.2 state."""

    __slots__ = (
        "acked",
        "acked_ts",
        "activated_ts",
        "activations",
        "active",
        "alarm_id",
        "category",
        "cond",
        "cond_since",
        "emitter",
        "kind",
        "label",
        "latch",
        "latched",
        "limit",
        "off_delay_s",
        "on_delay_s",
        "out_of_service",
        "point",
        "priority",
        "re_alarm_s",
        "shelved_until",
        "source",
        "suppressed",
        "unit",
        "value",
    )

    def __init__(
        self,
        alarm_id: str,
        *,
        point: str | None,
        kind: str,
        category: EventCategory,
        priority: Priority,
        limit: float | None,
        unit: str,
        emitter: Emitter,
        latch: bool = False,
        on_delay_s: float = 0.0,
        off_delay_s: float = 0.0,
        re_alarm_s: float | None = None,
        source: str = "",
    ) -> None:
        self.alarm_id = alarm_id
        self.point = point
        self.kind = kind
        self.label = kind.rsplit(".", 1)[-1].upper()
        self.category = category
        self.priority = priority
        self.limit = limit
        self.unit = unit
        self.emitter = emitter
        self.latch = latch
        self.on_delay_s = on_delay_s
        self.off_delay_s = off_delay_s
        self.re_alarm_s = re_alarm_s
        self.source = source
        self.cond = False  # the condition as last evaluated (after the caller's hysteresis)
        self.cond_since = 0.0
        self.value: float | None = None  # value at the last evaluation
        self.active = False
        self.acked = True
        self.latched = False
        self.shelved_until: float | None = None
        self.suppressed = False
        self.out_of_service = False
        self.activated_ts: float | None = None
        self.acked_ts: float | None = None
        self.activations = 0

    # -- state ------------------------------------------------------------------------------

    def base_state(self) -> AlarmState:
        """The ISA state A-F, ignoring overlays."""
        if self.active:
            return _C if self.acked else _B
        if self.latched:
            return _F if self.acked else _E
        return _A if self.acked else _D

    def state(self) -> AlarmState:
        """The ISA state as an operator sees it: an overlay (I, H, G) hides the base state."""
        if self.out_of_service:
            return AlarmState.OUT_OF_SERVICE
        if self.suppressed:
            return AlarmState.SUPPRESSED
        if self.shelved_until is not None:
            return AlarmState.SHELVED
        return self.base_state()

    @property
    def annunciated(self) -> bool:
        return (
            not (self.out_of_service or self.suppressed or self.shelved_until is not None)
            and self.base_state() is not _A
        )

    @property
    def quiet(self) -> bool:
        """Nothing for tick to do: not active, nothing pending, no overlay timer running."""
        return not (self.active or self.cond or self.shelved_until is not None)

    # -- condition ---------------------------------------------------------------------------

    def evaluate(self, cond: bool, value: float | None, t: float) -> None:
        """Feed one evaluation of the condition at time ``t`` (after the caller's deadband)."""
        self.value = value
        if cond is not self.cond:
            self.cond = cond
            self.cond_since = t
        if cond is self.active:
            return
        if t - self.cond_since >= (self.on_delay_s if cond else self.off_delay_s):
            if cond:
                self._raise(t)
            else:
                self._clear(t)

    def tick(self, now: float, trusted: bool) -> None:
        """Time-driven transitions: delays completing, shelve expiry, re-alarm.

        ``trusted`` is False while the point is in fault: its condition is then unknown, so a
        pending raise or clear waits for a value to confirm it.
        """
        if (
            trusted
            and self.cond is not self.active
            and now - self.cond_since >= (self.on_delay_s if self.cond else self.off_delay_s)
        ):
            if self.cond:
                self._raise(now)
            else:
                self._clear(now)
        if self.shelved_until is not None and now >= self.shelved_until:
            self.shelved_until = None
            self._emit(Transition.UNSHELVE, now, None, "shelving expired")
        if (
            self.re_alarm_s is not None
            and self.active
            and self.acked
            and self.acked_ts is not None
            and now - self.acked_ts >= self.re_alarm_s
        ):
            self.acked = False
            self._emit(
                Transition.RE_ALARM, now, None, f"still active {self.re_alarm_s:g} s after ack"
            )

    def _raise(self, t: float) -> None:
        self.active = True
        self.acked = False
        self.latched = False
        self.activated_ts = t
        self.activations += 1
        self._emit(Transition.RAISE, t, None, "")

    def _clear(self, t: float) -> None:
        self.active = False
        if self.latch:
            self.latched = True
        self._emit(Transition.CLEAR, t, None, "")

    # -- operator actions --------------------------------------------------------------------

    def act(
        self,
        action: AlarmAction,
        *,
        actor: str,
        now: float,
        reason: str = "",
        until: float | None = None,
        max_shelve_s: float,
    ) -> None:
        """Apply an operator action; raises ``AlarmActionError`` when ISA-18.2 does not allow it."""
        if not actor:
            self._refuse(action, "an actor is required for every operator action")
        handler = _ACTIONS[action]
        handler(self, actor, now, reason, until, max_shelve_s)

    def _refuse(self, action: AlarmAction, why: str) -> NoReturn:
        raise AlarmActionError(self.alarm_id, action.value, self.state().value, why)

    def _ack(self, actor: str, now: float, reason: str, until: float | None, _max: float) -> None:
        if self.acked:
            self._refuse(AlarmAction.ACK, "it is already acknowledged")
        self.acked = True
        self.acked_ts = now
        self._emit(Transition.ACK, now, actor, reason)

    def _reset(self, actor: str, now: float, reason: str, until: float | None, _max: float) -> None:
        if not self.latched:
            self._refuse(AlarmAction.RESET, "only a latched alarm is reset")
        if not self.acked:
            self._refuse(AlarmAction.RESET, "a latched alarm must be acknowledged before reset")
        self.latched = False
        self._emit(Transition.RESET, now, actor, reason)

    def _shelve(
        self, actor: str, now: float, reason: str, until: float | None, max_s: float
    ) -> None:
        if self.out_of_service:
            self._refuse(AlarmAction.SHELVE, "it is out of service")
        if self.shelved_until is not None:
            self._refuse(AlarmAction.SHELVE, f"it is already shelved until {self.shelved_until:g}")
        if until is None or until <= now:
            self._refuse(AlarmAction.SHELVE, "shelving needs an expiry time after now")
        if until - now > max_s:
            self._refuse(
                AlarmAction.SHELVE, f"shelving is limited to {max_s:g} s (asked {until - now:g} s)"
            )
        if not reason:
            self._refuse(AlarmAction.SHELVE, "shelving needs a reason")
        # hse-standards.md §1.1 G [A1][A4]: shelving acks an unacked alarm and resets a latch.
        if not self.acked:
            self.acked = True
            self.acked_ts = now
        self.latched = False
        self.shelved_until = until
        self._emit(Transition.SHELVE, now, actor, reason)

    def _unshelve(
        self, actor: str, now: float, reason: str, until: float | None, _m: float
    ) -> None:
        if self.shelved_until is None:
            self._refuse(AlarmAction.UNSHELVE, "it is not shelved")
        self.shelved_until = None
        self._emit(Transition.UNSHELVE, now, actor, reason)

    def _suppress(
        self, actor: str, now: float, reason: str, until: float | None, _m: float
    ) -> None:
        if self.suppressed:
            self._refuse(AlarmAction.SUPPRESS, "it is already suppressed")
        self.suppressed = True
        self._emit(Transition.SUPPRESS, now, actor, reason)

    def _unsuppress(
        self, actor: str, now: float, reason: str, until: float | None, _m: float
    ) -> None:
        if not self.suppressed:
            self._refuse(AlarmAction.UNSUPPRESS, "it is not suppressed")
        self.suppressed = False
        self._emit(Transition.UNSUPPRESS, now, actor, reason)

    def _remove(self, actor: str, now: float, reason: str, until: float | None, _m: float) -> None:
        if self.out_of_service:
            self._refuse(AlarmAction.OUT_OF_SERVICE, "it is already out of service")
        if not reason:
            self._refuse(
                AlarmAction.OUT_OF_SERVICE, "taking an alarm out of service needs a reason"
            )
        self.out_of_service = True
        self._emit(Transition.OUT_OF_SERVICE, now, actor, reason)

    def _restore(self, actor: str, now: float, reason: str, until: float | None, _m: float) -> None:
        if not self.out_of_service:
            self._refuse(AlarmAction.RETURN_TO_SERVICE, "it is not out of service")
        self.out_of_service = False
        self._emit(Transition.RETURN_TO_SERVICE, now, actor, reason)

    # -- events ------------------------------------------------------------------------------

    def _emit(self, transition: Transition, ts: float, actor: str | None, note: str) -> None:
        value, limit = self.value, self.limit
        if transition is Transition.RAISE or transition is Transition.CLEAR:
            shown = "?" if value is None else f"{value:g}"
            bound = "" if limit is None else f" (limit {limit:g} {self.unit})"
            message = f"{self.label} {transition.value}: {shown} {self.unit}{bound}"
        else:
            message = f"{self.label} {transition.value}" + (f": {note}" if note else "")
        details: dict[str, Any] = {
            "alarm_id": self.alarm_id,
            "base": self.base_state().value,
            "active": self.active,
            "acked": self.acked,
            "latched": self.latched,
            "shelved_until": self.shelved_until,
            "suppressed": self.suppressed,
            "out_of_service": self.out_of_service,
            "annunciated": self.annunciated,
        }
        if note:
            details["reason"] = note
        self.emitter.emit(
            self.category,
            self.kind,
            transition.value,
            ts,
            point=self.point,
            state=self.state().value,
            priority=self.priority,
            value=value,
            limit=limit,
            actor=actor,
            message=message,
            details=details,
        )


_ACTIONS = {
    AlarmAction.ACK: Alarm._ack,
    AlarmAction.RESET: Alarm._reset,
    AlarmAction.SHELVE: Alarm._shelve,
    AlarmAction.UNSHELVE: Alarm._unshelve,
    AlarmAction.SUPPRESS: Alarm._suppress,
    AlarmAction.UNSUPPRESS: Alarm._unsuppress,
    AlarmAction.OUT_OF_SERVICE: Alarm._remove,
    AlarmAction.RETURN_TO_SERVICE: Alarm._restore,
}
