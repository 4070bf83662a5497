"""Dependencies of the routes, as ``Annotated`` types: sessions, the caller, limits.

- ``SessionDep``: a read session (SQLite: deferred ``BEGIN``, so readers never block the writer).
- ``WriteSessionDep``: a session whose first statement takes the write lock (SQLite ``BEGIN
  IMMEDIATE``); the route commits.
- ``CurrentUser`` / ``AdminUser``: a valid, unexpired user token (admin role for the latter).
- ``CurrentAgent``: a valid agent token. A user token here is refused with 403 for what it is.
- ``UserScope``: the part of the org tree the current user may read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlmodel import Session

from central import crud
from central.core.db import IMMEDIATE
from central.core.epoch import to_us
from central.core.security import TokenKind, token_kind
from central.crud import AgentContext
from central.errors import Forbidden, Unauthenticated, Unprocessable
from central.models import Role, User
from central.queries import Scope, scope_for

from .state import CentralState

API_PREFIX = "/api/v1"

oauth2 = OAuth2PasswordBearer(tokenUrl=f"{API_PREFIX}/auth/token", auto_error=False)
agent_bearer = HTTPBearer(auto_error=False, description="An agent token (hse_agent_...)")


def get_state(request: Request) -> CentralState:
    state: CentralState = request.app.state.central
    return state


StateDep = Annotated[CentralState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    with Session(state.engine) as session:
        yield session


def get_write_session(state: StateDep) -> Iterator[Session]:
    with Session(state.engine.execution_options(**{IMMEDIATE: True})) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]
UserTokenDep = Annotated[str | None, Depends(oauth2)]
AgentCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(agent_bearer)]


def get_current_user(state: StateDep, session: SessionDep, token: UserTokenDep) -> User:
    if not token:
        raise Unauthenticated("this endpoint needs a user token: Authorization: Bearer <token>")
    user = (
        crud.user_for_token(session, token=token) if token_kind(token) == TokenKind.USER else None
    )
    if user is None:
        state.metrics.auth_failures.labels("user_token").inc()
        raise Unauthenticated("the token is invalid or expired; log in again")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise Forbidden("this needs the admin role", error="needs_admin")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def get_scope(session: SessionDep, user: CurrentUser) -> Scope:
    return scope_for(session, user)


UserScope = Annotated[Scope, Depends(get_scope)]


def get_current_agent(state: StateDep, credentials: AgentCredentials) -> AgentContext:
    if credentials is None or not credentials.credentials:
        state.ingest.refused("unauthenticated", None)
        raise Unauthenticated("ingest needs an agent token: Authorization: Bearer <token>")
    token = credentials.credentials
    kind = token_kind(token)
    if kind == TokenKind.USER and _is_user_token(state, token):
        state.ingest.refused("user_token", None)
        raise Forbidden(
            "a user token cannot write data; agents ingest with their own token",
            error="user_token",
        )
    agent = state.ingest.agent_for_token(token) if kind == TokenKind.AGENT else None
    if agent is None:
        state.metrics.auth_failures.labels("agent_token").inc()
        state.ingest.refused("unauthenticated", None)
        raise Unauthenticated("the agent token is invalid or revoked")
    return agent


def _is_user_token(state: CentralState, token: str) -> bool:
    with Session(state.engine) as session:
        return crud.user_for_token(session, token=token) is not None


CurrentAgent = Annotated[AgentContext, Depends(get_current_agent)]


def page_limit(state: CentralState, limit: int | None) -> int:
    """The page size: ``default_query_limit`` when not given, refused past ``max_query_limit``."""
    if limit is None:
        return state.settings.default_query_limit
    if limit < 1 or limit > state.settings.max_query_limit:
        raise Unprocessable(
            f"limit = {limit}: expected 1..{state.settings.max_query_limit} (max_query_limit)",
            location=["query", "limit"],
        )
    return limit


def query_time_us(name: str, value: datetime | None) -> int | None:
    """A time query parameter as epoch microseconds; it must carry a timezone."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise Unprocessable(
            f"{name} = {value.isoformat()}: give a timezone (e.g. ...Z for UTC)",
            location=["query", name],
        )
    return to_us(value)
