"""``/api/v1/users``: who am I; admins list and register users."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from sqlmodel import col, select

from central import crud
from central.api.deps import (
    API_PREFIX,
    AdminUser,
    CurrentUser,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
)
from central.models import User, UserCreate, UserPublic

router = APIRouter(prefix=API_PREFIX + "/users", tags=["users"])
log = structlog.get_logger("central.users")


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return _public(user)


@router.get("", response_model=list[UserPublic])
def list_users(
    state: StateDep,
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[UserPublic]:
    rows = session.exec(
        select(User).order_by(col(User.id)).offset(offset).limit(page_limit(state, limit))
    ).all()
    return [_public(u) for u in rows]


@router.post("", response_model=UserPublic, status_code=201)
def create_user(admin: AdminUser, session: WriteSessionDep, user_in: UserCreate) -> UserPublic:
    user = crud.create_user(session, user_in=user_in)
    session.commit()
    log.info("user created", user_id=user.id, role=user.role, by_user_id=admin.id)
    return _public(user)
