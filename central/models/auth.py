"""Who may do what: users (a role and an org scope), their bearer tokens, and agents.

A user has one :class:`Role` and one org scope (the whole fleet, one region or one plant). The
full role model (org scope x role x data category) builds on these columns. Personal data stays
out of this table beyond the login name; nothing here is ever logged except the numeric id.
"""

from __future__ import annotations

import enum

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from protocols.sync import Ident

from ._types import Micros


class Role(enum.StrEnum):
    ADMIN = "admin"
    """Registers plants, agents and users; sees everything in scope."""
    VIEWER = "viewer"
    """Reads the fleet's data in scope."""


class ScopeKind(enum.StrEnum):
    FLEET = "fleet"
    REGION = "region"
    PLANT = "plant"


class UserBase(SQLModel):
    username: str = Field(max_length=100, unique=True, index=True)
    # Plain strings, not database enums: the later role model adds values without a migration.
    role: Role = Field(default=Role.VIEWER, sa_type=String(16))
    scope_kind: ScopeKind = Field(default=ScopeKind.FLEET, sa_type=String(16))
    scope_key: str | None = Field(default=None, max_length=100)
    """The region or plant key the user is limited to; None for the whole fleet."""
    is_active: bool = True


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
