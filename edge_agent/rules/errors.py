"""The rules engine's exceptions, one tree:

RulesError                     anything the rules engine refuses (never retriable: the input
│                              is wrong, retrying the same call gives the same answer)
├── RulesConfigError           the ``rules:`` section does not fit the plant's points;
│                              ``problems`` lists every bad field with its path
├── UnknownAlarmError          a command names an alarm id the engine does not have
│                              (also a ``KeyError``)
└── AlarmActionError           an operator action is not allowed in the alarm's ISA-18.2 state
                               (ack of an acknowledged alarm, reset of an alarm not latched ...)
"""

from __future__ import annotations

from collections.abc import Sequence

from device_profiles.loader import FieldProblem


class RulesError(Exception):
    """Base of every error the rules engine raises. Never retriable."""

    retriable = False


class RulesConfigError(RulesError, ValueError):
    """The rules config does not fit the points; every problem is named by its field path."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"rules config: {len(self.problems)} problem(s)\n{lines}")


class UnknownAlarmError(RulesError, KeyError):
    """A command named an alarm the engine does not have."""

    def __init__(self, alarm_id: str, known: Sequence[str]) -> None:
        self.alarm_id = alarm_id
        sample = ", ".join(sorted(known)[:8])
        more = f" (and {len(known) - 8} more)" if len(known) > 8 else ""
        super().__init__(f"unknown alarm id {alarm_id!r}; known ids include: {sample}{more}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class AlarmActionError(RulesError, ValueError):
    """An operator action that ISA-18.2 does not allow in the alarm's current state."""

    def __init__(self, alarm_id: str, action: str, state: str, why: str) -> None:
        self.alarm_id = alarm_id
        self.action = action
        self.state = state
        super().__init__(f"alarm {alarm_id!r}: cannot {action} in state {state!r}: {why}")
