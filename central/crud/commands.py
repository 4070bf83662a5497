"""Commands for agents: queue one, and read its state as the API shows it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from central.core.epoch import now_us
from central.errors import NotFound
from central.models import Agent, Command, CommandStatus
from protocols.sync import CommandKind


def command_status(command: Command) -> str:
    """``pending`` (never sent), ``delivered`` (sent, no result yet), ``done`` or ``failed``."""
    if command.status == CommandStatus.PENDING and command.delivered_count > 0:
        return "delivered"
    return command.status


def enqueue_command(
    session: Session,
    *,
    agent_id: int,
    kind: CommandKind,
    issued_by: str,
    payload: dict[str, Any] | None = None,
    command_id: str | None = None,
) -> Command:
    """Queue a command for one agent; it rides in every ack until its result comes back.

    ``issued_by`` names the user or subsystem (for the audit trail), never a secret.
    """
    if session.get(Agent, agent_id) is None:
        raise NotFound(f"no agent with id {agent_id}", location=["agent_id"])
    command = Command(
        id=command_id or uuid.uuid4().hex,
        agent_id=agent_id,
        kind=CommandKind(kind).value,
        payload=payload or {},
        issued_ts=now_us(),
        issued_by=issued_by,
        status=CommandStatus.PENDING,
    )
    session.add(command)
    session.flush()
    return command
