"""``/api/v1/users`` and ``/api/v1/me``: who am I and what may I do; admins list, register and
unlock users."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from central import crud
from central.api.deps import (
    API_PREFIX,
    AnyCaller,
    CurrentUser,
    OrgManager,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
)
from central.crud import accounts
from central.models import Plant, User, UserCreate, UserPublic

router = APIRouter(prefix=API_PREFIX, tags=["users"])
log = structlog.get_logger("central.users")


class Me(BaseModel):
    """The caller, its scope and its row of the permission matrix (the dashboard shows or
    hides actions by it)."""

    kind: str
    username: str
    role: str
    scope: dict[str, object]
    permissions: dict[str, list[str]]
    locked: bool


class UnlockIn(BaseModel):
    comment: str = Field(default="", max_length=2000)
    """What the review found (kept in the audit entry)."""


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/me", response_model=Me)
def me(access: AnyCaller, session: SessionDep) -> Me:
    p = access.principal
    plants: list[str] | None = None
    if access.scope.plant_ids is not None:
        plants = sorted(
            key
            for key in session.exec(
                select(Plant.key).where(col(Plant.id).in_(sorted(access.scope.plant_ids)))
            )
        )
    return Me(
        kind=p.kind,
        username=p.name,
        role=p.role.value,
        scope={"kind": p.scope_kind.value, "key": p.scope_key, "plants": plants},
        permissions=access.grants.as_dict(),
        locked=p.locked_ts is not None,
    )


@router.get("/users/me", response_model=UserPublic)
def users_me(user: CurrentUser) -> UserPublic:
    return _public(user)


@router.get("/users", response_model=list[UserPublic])
def list_users(
    state: StateDep,
    _admin: OrgManager,
    session: SessionDep,
    locked: Annotated[bool | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[UserPublic]:
    """Users; ``locked=true`` lists the accounts waiting for review."""
    stmt = select(User)
    if locked is not None:
        stmt = stmt.where(
            col(User.locked_ts).is_not(None) if locked else col(User.locked_ts).is_(None)
        )
    rows = session.exec(
        stmt.order_by(col(User.id)).offset(offset).limit(page_limit(state, limit))
    ).all()
    return [_public(u) for u in rows]


@router.post("/users", response_model=UserPublic, status_code=201)
def create_user(admin: OrgManager, session: WriteSessionDep, user_in: UserCreate) -> UserPublic:
    user = crud.create_user(session, user_in=user_in)
    session.commit()
    log.info("user created", user_id=user.id, role=user.role, by=admin.label)
    return _public(user)


@router.post("/users/{username}/unlock", response_model=UserPublic)
def unlock_user(
    state: StateDep,
    admin: OrgManager,
    session: WriteSessionDep,
    username: str,
    body: UnlockIn | None = None,
) -> UserPublic:
    """Unlock an account locked by the export guard, after review; audited."""
    user = accounts.user_by_name(session, username=username)
    accounts.unlock(
        session,
        row=user,
        actor=admin.actor,
        now=state.clock.now_us(),
        comment=body.comment if body else "",
    )
    session.commit()
    log.info("account unlocked", user_id=user.id, by=admin.label)
    return _public(user)
