"""``/api/v1/commands/{id}``: what became of a command (an alarm action, a personnel list)."""

from __future__ import annotations

from fastapi import APIRouter

from central.api.deps import API_PREFIX, AnyCaller, SessionDep
from central.api.routes.agents import shown_payload
from central.core.epoch import iso
from central.core.permissions import Action, Category
from central.crud.commands import command_status
from central.errors import NotFound
from central.models import Agent, Command, CommandState, Plant
from protocols.sync import CommandKind

router = APIRouter(prefix=API_PREFIX + "/commands", tags=["commands"])

# What a caller must read to follow a command of each kind.
NEEDS = dict.fromkeys(CommandKind, Category.ALARMS) | {
    CommandKind.PERSONNEL_SYNC: Category.PERSONNEL
}


@router.get("/{command_id}", response_model=CommandState)
def command(access: AnyCaller, session: SessionDep, command_id: str) -> CommandState:
    """``pending`` (queued, not yet sent), ``delivered`` (sent with an ack, no result yet),
    ``done`` or ``failed`` with the agent's ``result_message``."""
    cmd = session.get(Command, command_id)
    agent = session.get(Agent, cmd.agent_id) if cmd is not None else None
    if cmd is None or agent is None or not access.plant_ok(agent.plant_id):
        raise NotFound(f"no command {command_id!r} in your scope", location=["command_id"])
    access.require(NEEDS.get(CommandKind(cmd.kind), Category.ALARMS), Action.READ)
    plant = session.get(Plant, agent.plant_id)
    return CommandState(
        id=cmd.id,
        kind=cmd.kind,
        agent_id=agent.key,
        plant=plant.key if plant else "",
        status=command_status(cmd),
        result_ok=cmd.result_ok,
        result_message=cmd.result_message,
        issued_at=iso(cmd.issued_ts) or "",
        issued_by=cmd.issued_by,
        delivered_count=cmd.delivered_count,
        last_delivered_at=iso(cmd.last_delivered_ts),
        done_at=iso(cmd.done_ts),
        payload=shown_payload(access, cmd.kind, cmd.payload or {}),
    )
