"""Who may do what: users (a role and an org scope), their bearer tokens, API tokens, agents.

A user or an API token has one :class:`Role` and one org scope (the whole fleet, one region or
one plant); what a role may do with each data category is the matrix of
:mod:`central.core.permissions`. An account (user or API token) can be locked (a burst of exports
out of hours): it is then refused until an admin unlocks it. Personal data stays out of these
tables beyond the login name; nothing here is ever logged except the numeric id.
"""

from __future__ import annotations

import enum

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from protocols.sync import Ident

from ._types import Micros


class Role(enum.StrEnum):
    """The default roles; what each may do is :data:`central.core.permissions.MATRIX`."""

    ADMIN = "admin"
    """Registers plants, agents, users and API tokens; manages the fleet's configuration."""
    HQ_DIRECTOR = "hq_director"
    """Reads everything in the fleet (personal fields masked)."""
    REGIONAL_MANAGER = "regional_manager"
    """Reads the own region; acknowledges and shelves its alarms."""
    PLANT_SAFETY_OFFICER = "plant_safety_officer"
    """Runs the own plant's safety: alarm actions, personnel and their personal data."""
    OPERATOR = "operator"
    """The own plant's readings and alarms; acknowledges alarms."""
    AUDITOR = "auditor"
    """Reads compliance records and the access audit of the whole fleet; changes nothing."""
    VIEWER = "viewer"
    """Reads readings, alarms and exposure in scope (the first role model; kept working)."""


class ScopeKind(enum.StrEnum):
    FLEET = "fleet"
    REGION = "region"
    PLANT = "plant"


class UserBase(SQLModel):
    username: str = Field(max_length=100, unique=True, index=True)
    # Plain strings, not database enums: the later role model adds values without a migration.
    role: Role = Field(default=Role.VIEWER, sa_type=String(32))
    scope_kind: ScopeKind = Field(default=ScopeKind.FLEET, sa_type=String(16))
    scope_key: str | None = Field(default=None, max_length=100)
    """The region or plant key the user is limited to; None for the whole fleet."""
    is_active: bool = True
    locked_ts: int | None = Field(default=None, sa_type=Micros)
    """Set when the account was locked (export burst out of hours); None when it may log in."""
    locked_reason: str | None = Field(default=None, max_length=500)


class UserCreate(SQLModel):
    username: Ident
    password: str = Field(min_length=10, max_length=1000, repr=False)
    role: Role = Role.VIEWER
    scope_kind: ScopeKind = ScopeKind.FLEET
    scope_key: Ident | None = None


class User(UserBase, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=200, repr=False)
    created_ts: int = Field(sa_type=Micros)


class UserPublic(UserBase):
    id: int


class UserToken(SQLModel, table=True):
    """An issued user bearer token, by its SHA-256; valid until ``expires_ts``."""

    __tablename__ = "user_token"
    __table_args__ = (Index("ix_user_token_user", "user_id", "expires_ts"),)

    token_hash: str = Field(primary_key=True, max_length=64, repr=False)
    user_id: int = Field(foreign_key="app_user.id")
    created_ts: int = Field(sa_type=Micros)
    expires_ts: int = Field(sa_type=Micros)


class TokenPublic(SQLModel):
    """The answer to a login: the token is shown this once."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)
    expires_at: str


class Agent(SQLModel, table=True):
    """An edge agent; it serves exactly one plant and authenticates with its own token."""

    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True, index=True)
    plant_id: int = Field(foreign_key="plant.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    is_active: bool = True
    created_ts: int = Field(sa_type=Micros)


class AgentCreate(SQLModel):
    plant: Ident
    region: Ident = "default"
    agent_id: Ident | None = None


class AgentPublic(SQLModel):
    agent_id: str
    plant: str
    region: str
    is_active: bool
    created_at: str


class AgentCreated(AgentPublic):
    """The answer to registering an agent: its token, shown this once."""

    token: str


class ApiToken(SQLModel, table=True):
    """A token for an integration (an HR system, a reporting tool), scoped like a user.

    Created by an admin and shown once; stored as its SHA-256. Revoked tokens stay (the audit
    log names them); a locked token is refused until an admin unlocks it.
    """

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    role: str = Field(max_length=32)
    scope_kind: str = Field(default=ScopeKind.FLEET, max_length=16)
    scope_key: str | None = Field(default=None, max_length=100)
    created_by: str = Field(max_length=120)
    created_ts: int = Field(sa_type=Micros)
    expires_ts: int | None = Field(default=None, sa_type=Micros)
    revoked_ts: int | None = Field(default=None, sa_type=Micros)
    last_used_ts: int | None = Field(default=None, sa_type=Micros)
    locked_ts: int | None = Field(default=None, sa_type=Micros)
    locked_reason: str | None = Field(default=None, max_length=500)


class ApiTokenCreate(SQLModel):
    name: Ident
    role: Role
    scope_kind: ScopeKind = ScopeKind.FLEET
    scope_key: Ident | None = None
    expires_days: int | None = Field(default=None, ge=1, le=3650)
    """None: valid until revoked."""


class ApiTokenPublic(SQLModel):
    id: int
    name: str
    role: str
    scope_kind: str
    scope_key: str | None
    created_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    locked_at: str | None
    locked_reason: str | None


class ApiTokenCreated(ApiTokenPublic):
    """The answer to creating an API token: the token, shown this once."""

    token: str
