"""``/api/v1/agents``: register agents (admin), list them, queue and list their commands."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from central import crud
from central.api.deps import (
    API_PREFIX,
    Access,
    OrgManager,
    OrgReader,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
)
from central.core.epoch import iso
from central.core.permissions import Action, Category
from central.errors import NotFound
from central.models import (
    Agent,
    AgentCreate,
    AgentCreated,
    AgentPublic,
    Command,
    CommandPublic,
    Plant,
    Region,
)
from central.queries import Scope
from protocols.sync import CommandKind

router = APIRouter(prefix=API_PREFIX + "/agents", tags=["agents"])
log = structlog.get_logger("central.agents")


class CommandCreate(BaseModel):
    kind: CommandKind
    payload: dict[str, Any] = Field(default_factory=dict)


def _agent_public(agent: Agent, plant: Plant, region: Region) -> AgentPublic:
    return AgentPublic(
        agent_id=agent.key,
        plant=plant.key,
        region=region.key,
        is_active=agent.is_active,
        created_at=iso(agent.created_ts) or "",
    )


def _agent_in_scope(session: Session, scope: Scope, key: str) -> Agent:
    agent = session.exec(select(Agent).where(Agent.key == key)).first()
    if agent is None or not scope.allows(agent.plant_id):
        raise NotFound(f"no agent {key!r} in your scope", location=["agent_id"])
    return agent


def shown_payload(access: Access, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A command's payload as this caller may see it: personnel lists only with personnel:R."""
    if kind == CommandKind.PERSONNEL_SYNC and not access.can(Category.PERSONNEL, Action.READ):
        return {"records": len(payload.get("records", [])), "redacted": True}
    return payload


def _command_public(cmd: Command, agent_key: str, access: Access) -> CommandPublic:
    return CommandPublic(
        id=cmd.id,
        agent_id=agent_key,
        kind=cmd.kind,
        payload=shown_payload(access, cmd.kind, cmd.payload or {}),
        issued_at=iso(cmd.issued_ts) or "",
        issued_by=cmd.issued_by,
        status=cmd.status,
        delivered_count=cmd.delivered_count,
        result_ok=cmd.result_ok,
        result_message=cmd.result_message,
    )


@router.post("", response_model=AgentCreated, status_code=201)
def create_agent(
    admin: OrgManager, session: WriteSessionDep, agent_in: AgentCreate
) -> AgentCreated:
    """Register an agent (and its plant when new). The token is in this answer only."""
    agent, token = crud.create_agent(
        session, plant=agent_in.plant, region=agent_in.region, agent_key=agent_in.agent_id
    )
    plant = session.get(Plant, agent.plant_id)
    assert plant is not None
    region = session.get(Region, plant.region_id)
    assert region is not None
    session.commit()
    log.info("agent created", agent=agent.key, plant=plant.key, by=admin.label)
    return AgentCreated(**_agent_public(agent, plant, region).model_dump(), token=token)


@router.get("", response_model=list[AgentPublic])
def list_agents(
    state: StateDep,
    access: OrgReader,
    session: SessionDep,
    plant: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AgentPublic]:
    stmt = (
        select(Agent, Plant, Region)
        .join(Plant, col(Plant.id) == Agent.plant_id)
        .join(Region, col(Region.id) == Plant.region_id)
        .where(access.scope.filter(col(Plant.id)))
    )
    if plant is not None:
        stmt = stmt.where(Plant.key == plant)
    rows = session.exec(
        stmt.order_by(col(Agent.key)).offset(offset).limit(page_limit(state, limit))
    ).all()
    return [_agent_public(a, p, r) for a, p, r in rows]


@router.post("/{agent_id}/commands", response_model=CommandPublic, status_code=201)
def create_command(
    admin: OrgManager,
    session: WriteSessionDep,
    agent_id: str,
    command_in: CommandCreate,
) -> CommandPublic:
    """Queue a command for an agent; it goes down in every ack until the agent answers it."""
    agent = _agent_in_scope(session, admin.scope, agent_id)
    assert agent.id is not None
    cmd = crud.enqueue_command(
        session,
        agent_id=agent.id,
        kind=command_in.kind,
        payload=command_in.payload,
        issued_by=admin.label,
    )
    session.commit()
    log.info("command queued", agent=agent.key, kind=cmd.kind, command=cmd.id)
    return _command_public(cmd, agent.key, admin)


@router.get("/{agent_id}/commands", response_model=list[CommandPublic])
def list_commands(
    state: StateDep,
    access: OrgReader,
    session: SessionDep,
    agent_id: str,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
) -> list[CommandPublic]:
    agent = _agent_in_scope(session, access.scope, agent_id)
    stmt = select(Command).where(Command.agent_id == agent.id)
    if status is not None:
        stmt = stmt.where(Command.status == status)
    rows = session.exec(
        stmt.order_by(col(Command.issued_ts).desc()).limit(page_limit(state, limit))
    ).all()
    return [_command_public(c, agent.key, access) for c in rows]
