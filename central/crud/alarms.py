"""Actions on alarms made through central: each becomes a command for the plant's agent.

The edge owns alarm state (it must work with the uplink down); central asks, the agent applies
the action to its rules engine and the resulting event comes back in a later batch, which moves
``alarm_state`` forward. Every request is also an ``alarm_note`` row (who, what, why, which
command), so comments and shelving reasons are kept centrally whatever the edge answers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from central.core.epoch import from_us
from central.errors import Conflict, NotFound
from central.models import Agent, AlarmNote, AlarmState, Command
from central.queries.scope import Scope
from protocols.sync import CommandKind

from .commands import enqueue_command

KIND_OF_ACTION = {
    "ack": CommandKind.ALARM_ACK,
    "shelve": CommandKind.ALARM_SHELVE,
    "unshelve": CommandKind.ALARM_UNSHELVE,
    "reset": CommandKind.ALARM_RESET,
    "comment": CommandKind.ALARM_COMMENT,
}


def alarm_in_scope(session: Session, *, scope: Scope, alarm_id: str) -> AlarmState:
    alarm = session.get(AlarmState, alarm_id)
    if alarm is None or not scope.allows(alarm.plant_id):
        raise NotFound(f"no alarm {alarm_id!r} in your scope", location=["alarm_id"])
    return alarm


def agent_for_alarm(session: Session, *, alarm: AlarmState) -> Agent:
    """The agent that reported the alarm last, or another active agent of its plant."""
    agent = session.get(Agent, alarm.agent_id)
    if agent is not None and agent.is_active:
        return agent
    other = session.exec(
        select(Agent)
        .where(Agent.plant_id == alarm.plant_id, col(Agent.is_active))
        .order_by(col(Agent.id))
    ).first()
    if other is None:
        raise Conflict(
            f"alarm {alarm.alarm_id!r}: its plant has no active agent to send the action to",
            error="no_agent",
        )
    return other


def request_action(
    session: Session,
    *,
    alarm: AlarmState,
    action: str,
    actor: str,
    now: int,
    text: str = "",
    minutes: int | None = None,
) -> tuple[Command, Agent]:
    """Queue ``action`` (ack, shelve, unshelve, reset, comment) for the alarm's agent.

    The payload follows ``edge_agent.safety.Safety.on_command``: ``alarm_id``, ``reason``,
    ``until`` (ISO 8601) for shelving; a comment carries ``text``.
    """
    payload: dict[str, Any] = {"alarm_id": alarm.alarm_id}
    if action == "comment":
        payload["text"] = text
    else:
        payload["reason"] = text
    if action == "shelve":
        assert minutes is not None
        payload["until"] = (from_us(now) + timedelta(minutes=minutes)).isoformat()
    agent = agent_for_alarm(session, alarm=alarm)
    assert agent.id is not None
    command = enqueue_command(
        session, agent_id=agent.id, kind=KIND_OF_ACTION[action], payload=payload, issued_by=actor
    )
    session.add(
        AlarmNote(
            plant_id=alarm.plant_id,
            alarm_id=alarm.alarm_id,
            ts=now,
            actor=actor,
            action=action,
            text=text,
            command_id=command.id,
        )
    )
    session.flush()
    return command, agent


__all__ = ["KIND_OF_ACTION", "agent_for_alarm", "alarm_in_scope", "request_action"]
