"""``/api/v1/alarms``: central's view of every alarm, and actions on them.

An action (ack, shelve, unshelve, reset, comment) is checked against the caller's role and
scope, queued as a command for the plant's agent and answered 202 with the command id; its
effect comes back as the agent's event, which moves the alarm's state. Acknowledging, resetting
and commenting need ``alarms:A``; shelving and unshelving ``alarms:M`` (a shelved alarm is not
annunciated, so it is a heavier decision, recorded with its reason).
"""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query

from central.api.deps import (
    API_PREFIX,
    Access,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
    permit,
)
from central.core.permissions import Action, Category
from central.crud import alarms as alarm_crud
from central.crud.commands import command_status
from central.errors import NotFound
from central.models import (
    AckIn,
    AlarmDetail,
    AlarmList,
    AlarmState,
    CommandAccepted,
    CommentIn,
    ReasonIn,
    ShelveIn,
)
from central.queries import StateFilter, alarm_notes, alarm_rows, list_alarms, plant_in_scope
from central.queries.alarms import alarm_t, public
from protocols.sync import Priority

router = APIRouter(prefix=API_PREFIX + "/alarms", tags=["alarms"])
log = structlog.get_logger("central.alarms")

AlarmReader = Annotated[Access, permit((Category.ALARMS, Action.READ))]
AlarmActor = Annotated[Access, permit((Category.ALARMS, Action.ACT))]
AlarmManager = Annotated[Access, permit((Category.ALARMS, Action.MANAGE))]


def _categories(access: Access) -> list[str]:
    cats = ["alarm", "fault"]
    if access.can(Category.EXPOSURE, Action.READ):
        cats.append("exposure")
    return cats


def _alarm(session: SessionDep, access: Access, alarm_id: str) -> AlarmState:
    alarm = alarm_crud.alarm_in_scope(session, scope=access.scope, alarm_id=alarm_id)
    if alarm.category not in _categories(access):
        raise NotFound(f"no alarm {alarm_id!r} in your scope", location=["alarm_id"])
    return alarm


@router.get("", response_model=AlarmList)
def alarms(
    state: StateDep,
    access: AlarmReader,
    session: SessionDep,
    plant: Annotated[str | None, Query()] = None,
    state_: Annotated[StateFilter, Query(alias="state")] = "active",
    priority: Annotated[Priority | None, Query()] = None,
    category: Annotated[Literal["alarm", "exposure", "fault"] | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> AlarmList:
    """Alarms by state: ``active`` (still to be seen: ISA-18.2 B-F and active faults),
    ``unacked``, ``shelved`` or ``all``; most urgent first. Alarms and exposure alarms by
    default; ``category=fault`` for sensor faults."""
    plant_id = plant_in_scope(session, access.scope, plant).id if plant is not None else None
    if category is not None:
        if category not in _categories(access):
            access.require(Category.EXPOSURE, Action.READ)
        cats: list[str] = [category]
    else:
        cats = [c for c in _categories(access) if c != "fault"]
    return list_alarms(
        session,
        access.scope,
        plant_id=plant_id,
        state=state_,
        priority=priority.value if priority else None,
        categories=cats,
        limit=page_limit(state, limit),
        after=cursor,
    )


def _act(
    state: StateDep,
    access: Access,
    session: WriteSessionDep,
    alarm_id: str,
    action: str,
    text: str = "",
    minutes: int | None = None,
) -> CommandAccepted:
    alarm = _alarm(session, access, alarm_id)
    if alarm.category == "fault":
        raise NotFound(
            f"{alarm_id!r} is a sensor fault: it clears itself when the sensor recovers",
            location=["alarm_id"],
        )
    command, agent = alarm_crud.request_action(
        session,
        alarm=alarm,
        action=action,
        actor=access.label,
        now=state.clock.now_us(),
        text=text,
        minutes=minutes,
    )
    session.commit()
    log.info("alarm action queued", action=action, command=command.id, by=access.label)
    return CommandAccepted(
        command_id=command.id,
        status=command_status(command),
        alarm_id=alarm.alarm_id,
        action=action,
        agent_id=agent.key,
    )


@router.post("/{alarm_id:path}/ack", response_model=CommandAccepted, status_code=202)
def ack(
    state: StateDep,
    access: AlarmActor,
    session: WriteSessionDep,
    alarm_id: str,
    body: AckIn | None = None,
) -> CommandAccepted:
    return _act(state, access, session, alarm_id, "ack", body.comment if body else "")


@router.post("/{alarm_id:path}/shelve", response_model=CommandAccepted, status_code=202)
def shelve(
    state: StateDep, access: AlarmManager, session: WriteSessionDep, alarm_id: str, body: ShelveIn
) -> CommandAccepted:
    """Shelve for ``minutes`` (1..10080) with a ``reason`` (required)."""
    return _act(state, access, session, alarm_id, "shelve", body.reason, body.minutes)


@router.post("/{alarm_id:path}/unshelve", response_model=CommandAccepted, status_code=202)
def unshelve(
    state: StateDep,
    access: AlarmManager,
    session: WriteSessionDep,
    alarm_id: str,
    body: ReasonIn | None = None,
) -> CommandAccepted:
    return _act(state, access, session, alarm_id, "unshelve", body.reason if body else "")


@router.post("/{alarm_id:path}/reset", response_model=CommandAccepted, status_code=202)
def reset(
    state: StateDep,
    access: AlarmActor,
    session: WriteSessionDep,
    alarm_id: str,
    body: ReasonIn | None = None,
) -> CommandAccepted:
    """Reset a latched alarm (the agent refuses unless it is latched and acknowledged)."""
    return _act(state, access, session, alarm_id, "reset", body.reason if body else "")


@router.post("/{alarm_id:path}/comment", response_model=CommandAccepted, status_code=202)
def comment(
    state: StateDep, access: AlarmActor, session: WriteSessionDep, alarm_id: str, body: CommentIn
) -> CommandAccepted:
    """A comment, kept centrally with the alarm and sent to the agent as ``alarm.comment``."""
    return _act(state, access, session, alarm_id, "comment", body.text)


@router.get("/{alarm_id:path}", response_model=AlarmDetail)
def alarm(state: StateDep, access: AlarmReader, session: SessionDep, alarm_id: str) -> AlarmDetail:
    """One alarm with the actions and comments made on it through central, newest first."""
    row = _alarm(session, access, alarm_id)
    (full,) = alarm_rows(session, [alarm_t.c.alarm_id == row.alarm_id], 1)
    notes = alarm_notes(session, alarm_id=row.alarm_id, limit=page_limit(state, None))
    return AlarmDetail(**public(full).model_dump(), notes=notes)
