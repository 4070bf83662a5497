"""Keyword-only create/read functions for the registry: org tree, agents, users, user tokens.

Each takes an open :class:`sqlmodel.Session` and leaves committing to the caller, so a route or a
CLI command can do several in one transaction. Tokens are returned to the caller once and stored
only as hashes; nothing here logs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from central.core import security
from central.core.epoch import now_us
from central.core.permissions import grants, scope_allowed
from central.errors import Conflict, NotFound, Unprocessable
from central.models import (
    Agent,
    Plant,
    Region,
    Role,
    ScopeKind,
    User,
    UserCreate,
    UserToken,
)

from .people import sync_plant_personnel


@dataclass(frozen=True, slots=True)
class AgentContext:
    """An authenticated agent: who it is and the one plant it may write."""

    agent_id: int
    agent_key: str
    plant_id: int
    plant_key: str


def get_or_create_region(session: Session, *, key: str, name: str = "") -> Region:
    region = session.exec(select(Region).where(Region.key == key)).first()
    if region is None:
        region = Region(key=key, name=name or key, created_ts=now_us())
        session.add(region)
        session.flush()
    return region


def get_or_create_plant(
    session: Session, *, key: str, region: str | None = None, name: str = ""
) -> Plant:
    """The plant ``key``, created under ``region`` (default ``"default"``) when new.

    Raises :class:`Conflict` when the plant exists in another region than the one named.
    """
    plant = session.exec(select(Plant).where(Plant.key == key)).first()
    if plant is not None:
        if region is not None:
            current = session.get(Region, plant.region_id)
            if current is not None and current.key != region:
                raise Conflict(
                    f"plant {key!r} is in region {current.key!r}, not {region!r}",
                    location=["region"],
                )
        return plant
    region_row = get_or_create_region(session, key=region or "default")
    assert region_row.id is not None
    plant = Plant(key=key, name=name or key, region_id=region_row.id, created_ts=now_us())
    session.add(plant)
    session.flush()
    return plant


def create_agent(
    session: Session, *, plant: str, region: str | None = None, agent_key: str | None = None
) -> tuple[Agent, str]:
    """Register an agent for ``plant`` (created if needed); returns the agent and its token.

    The token is returned this once; only its hash is stored.
    """
    plant_row = get_or_create_plant(session, key=plant, region=region)
    key = agent_key or f"{plant}-{secrets.token_hex(3)}"
    if session.exec(select(Agent).where(Agent.key == key)).first() is not None:
        raise Conflict(f"agent {key!r} exists already", location=["agent_id"])
    token = security.new_token(security.TokenKind.AGENT)
    assert plant_row.id is not None
    agent = Agent(
        key=key,
        plant_id=plant_row.id,
        token_hash=security.hash_token(token),
        created_ts=now_us(),
    )
    session.add(agent)
    session.flush()
    assert agent.id is not None
    sync_plant_personnel(session, plant_id=agent.plant_id)
    return agent, token


def agent_for_token(session: Session, *, token: str) -> AgentContext | None:
    """The active agent holding ``token``, or None."""
    row = session.exec(
        select(Agent.id, Agent.key, Plant.id, Plant.key)
        .join(Plant, col(Plant.id) == Agent.plant_id)
        .where(Agent.token_hash == security.hash_token(token), col(Agent.is_active))
    ).first()
    if row is None:
        return None
    agent_id, agent_key, plant_id, plant_key = row
    assert agent_id is not None
    assert plant_id is not None
    return AgentContext(agent_id, agent_key, plant_id, plant_key)


def create_user(session: Session, *, user_in: UserCreate) -> User:
    if session.exec(select(User).where(User.username == user_in.username)).first() is not None:
        raise Conflict(f"user {user_in.username!r} exists already", location=["username"])
    check_scope_key(scope_kind=user_in.scope_kind, scope_key=user_in.scope_key)
    check_scope(role=user_in.role, scope_kind=user_in.scope_kind)
    check_scope_exists(session, scope_kind=user_in.scope_kind, scope_key=user_in.scope_key)
    user = User(
        username=user_in.username,
        role=Role(user_in.role),
        scope_kind=ScopeKind(user_in.scope_kind),
        scope_key=user_in.scope_key,
        password_hash=security.hash_password(user_in.password),
        created_ts=now_us(),
    )
    session.add(user)
    session.flush()
    return user


def check_scope(*, role: Role | str, scope_kind: ScopeKind | str) -> None:
    """Refuse a scope kind the role may not hold (``central.core.permissions.MATRIX``)."""
    if not scope_allowed(role, scope_kind):
        allowed = ", ".join(sorted(s.value for s in grants(role).scopes))
        raise Unprocessable(
            f"role {Role(role).value!r} holds scope {allowed}, not {ScopeKind(scope_kind).value!r}",
            location=["scope_kind"],
        )


def check_scope_key(*, scope_kind: ScopeKind | str, scope_key: str | None) -> None:
    """Refuse a ``scope_key`` with the fleet, or none with a region or plant."""
    if (scope_kind == ScopeKind.FLEET) != (scope_key is None):
        raise Unprocessable(
            "scope_key names the region or plant for scope_kind region|plant, "
            "and is empty for fleet",
            location=["scope_key"],
        )


def check_scope_exists(
    session: Session, *, scope_kind: ScopeKind | str, scope_key: str | None
) -> None:
    """Refuse (404) a region or plant scope naming one that does not exist."""
    if scope_kind == ScopeKind.REGION:
        if session.exec(select(Region).where(Region.key == scope_key)).first() is None:
            raise NotFound(f"no region {scope_key!r}", location=["scope_key"])
    elif (
        scope_kind == ScopeKind.PLANT
        and session.exec(select(Plant).where(Plant.key == scope_key)).first() is None
    ):
        raise NotFound(f"no plant {scope_key!r}", location=["scope_key"])


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work whether the name exists)."""
    user = session.exec(select(User).where(User.username == username)).first()
    ok = security.verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        return None
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
        session.add(user)
    return user


def issue_user_token(session: Session, *, user: User, ttl_s: int) -> tuple[str, int]:
    """A new bearer token for ``user`` valid ``ttl_s``; returns (token, expires_us).

    Also drops the user's expired tokens, so the table does not grow with every login.
    """
    assert user.id is not None
    now = now_us()
    session.exec(
        delete(UserToken).where(col(UserToken.user_id) == user.id, col(UserToken.expires_ts) <= now)
    )
    token = security.new_token(security.TokenKind.USER)
    expires = now + ttl_s * 1_000_000
    session.add(
        UserToken(
            token_hash=security.hash_token(token),
            user_id=user.id,
            created_ts=now,
            expires_ts=expires,
        )
    )
    session.flush()
    return token, expires


def user_for_token(session: Session, *, token: str) -> User | None:
    """The active user of an unexpired token, or None."""
    return session.exec(
        select(User)
        .join(UserToken, col(UserToken.user_id) == User.id)
        .where(
            UserToken.token_hash == security.hash_token(token),
            col(UserToken.expires_ts) > now_us(),
            col(User.is_active),
        )
    ).first()


def revoke_user_token(session: Session, *, token: str) -> bool:
    result = session.exec(
        delete(UserToken).where(col(UserToken.token_hash) == security.hash_token(token))
    )
    return bool(result.rowcount)
