"""Dependencies of the routes, as ``Annotated`` types: sessions, the caller, limits.

- ``SessionDep``: a read session (SQLite: deferred ``BEGIN``, so readers never block the writer).
- ``WriteSessionDep``: a session whose first statement takes the write lock (SQLite ``BEGIN
  IMMEDIATE``); the route commits.
- :func:`permit`: THE access check. Every route that serves people declares the
  (category, action) pairs it needs; the dependency authenticates the caller (user or API
  token), refuses a locked account, checks the role's row of
  :data:`central.core.permissions.MATRIX` and yields an :class:`Access` carrying the caller's
  scope (rows outside it are 404 to the route) and client address for the audit log.
- ``CurrentUser``: a valid, unexpired user token (login, logout, ``/users/me``).
- ``CurrentAgent``: a valid agent token. A user token here is refused with 403 for what it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlmodel import Session

from central import crud
from central.core.db import IMMEDIATE, write_session
from central.core.epoch import to_us
from central.core.permissions import Action, Category, RoleGrants, grants, holders
from central.core.security import TokenKind, token_kind
from central.crud import AgentContext
from central.crud.accounts import (
    Principal,
    api_token_use_due,
    api_token_used,
    locked_refusal,
    principal_for_token,
    user_principal,
)
from central.crud.audit import Actor, ClientInfo
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
    if user.locked_ts is not None:
        state.metrics.auth_failures.labels("locked").inc()
        raise locked_refusal(user_principal(user))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def client_info(request: Request) -> ClientInfo:
    """The peer address (behind a proxy: run uvicorn with ``--forwarded-allow-ips`` so it is
    the client's) and the user agent, as the audit log records them."""
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


@dataclass(frozen=True, slots=True)
class Access:
    """An authenticated caller allowed into a route: who, what its role may do, where."""

    principal: Principal
    grants: RoleGrants
    scope: Scope
    client: ClientInfo

    def can(self, category: Category, action: Action) -> bool:
        return self.grants.allows(category, action)

    def require(self, category: Category, action: Action) -> None:
        if not self.can(category, action):
            raise refusal(self.principal.role, category, action)

    def plant_ok(self, plant_id: int) -> bool:
        return self.scope.allows(plant_id)

    @property
    def actor(self) -> Actor:
        return Actor.of(self.principal, self.client)

    @property
    def label(self) -> str:
        return self.principal.label


def refusal(role: Role, category: Category, action: Action) -> Forbidden:
    allowed = holders(category, action)
    code = "needs_admin" if allowed == {Role.ADMIN} else "forbidden"
    who = ", ".join(sorted(r.value for r in allowed)) or "no role"
    return Forbidden(
        f"role {role.value!r} may not {action.value} {category.value} (allowed: {who})",
        error=code,
    )


def get_principal(state: StateDep, session: SessionDep, token: UserTokenDep) -> Principal:
    """The caller behind a user or API token; 401 without a valid one, 403 when locked."""
    if not token:
        raise Unauthenticated("this endpoint needs a token: Authorization: Bearer <token>")
    principal = principal_for_token(session, token=token)
    if principal is None:
        kind = "api_token" if token_kind(token) == TokenKind.API else "user_token"
        state.metrics.auth_failures.labels(kind).inc()
        raise Unauthenticated("the token is invalid, expired or revoked; log in again")
    if principal.locked_ts is not None:
        state.metrics.auth_failures.labels("locked").inc()
        raise locked_refusal(principal)
    # Only when the last use is old enough to note: a write transaction per request would
    # take SQLite's write lock from ingest.
    if principal.kind == "token" and api_token_use_due(session, token_id=principal.id):
        with write_session(state.engine) as w:
            api_token_used(w, token_id=principal.id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def permit(*needs: tuple[Category, Action]) -> Any:
    """A dependency that lets in callers whose role holds every (category, action) in ``needs``.

    ``needs`` empty: any authenticated caller (the route checks per row, e.g. events by
    category). Use as ``access: Annotated[Access, permit((Category.ALARMS, Action.READ))]``.
    """

    def check(principal: PrincipalDep, session: SessionDep, request: Request) -> Access:
        row = grants(principal.role)
        for category, action in needs:
            if not row.allows(category, action):
                raise refusal(principal.role, category, action)
        return Access(
            principal=principal,
            grants=row,
            scope=scope_for(session, principal),
            client=client_info(request),
        )

    check.__name__ = "permit_" + "_".join(f"{c.value}_{a.value}" for c, a in needs)
    return Depends(check)


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


AnyCaller = Annotated[Access, permit()]
OrgReader = Annotated[Access, permit((Category.ORGANISATION, Action.READ))]
OrgManager = Annotated[Access, permit((Category.ORGANISATION, Action.MANAGE))]
ReadingsReader = Annotated[Access, permit((Category.READINGS, Action.READ))]


def period_us(
    start: datetime | None,
    end: datetime | None,
    *,
    now: int,
    default_s: float,
    max_s: float | None = None,
) -> tuple[int, int]:
    """[start, end) in epoch µs from query parameters: end defaults to now, start to end minus
    ``default_s``; start must be before end and the span at most ``max_s``."""
    end_us = query_time_us("end", end)
    if end_us is None:
        end_us = now
    start_us = query_time_us("start", start)
    if start_us is None:
        start_us = end_us - round(default_s * 1_000_000)
    if start_us >= end_us:
        raise Unprocessable("start must be before end", location=["query", "start"])
    if max_s is not None and end_us - start_us > max_s * 1_000_000:
        raise Unprocessable(
            f"the period is {(end_us - start_us) / 86_400e6:.1f} days; at most "
            f"{max_s / 86_400:g} days",
            location=["query", "start"],
        )
    return start_us, end_us
