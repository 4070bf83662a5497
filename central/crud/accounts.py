"""Who is calling: a user (login token) or an integration (API token), and account locks.

Both kinds of account carry a role and an org scope and can be locked: a locked account's
logins and tokens are refused (403 ``account_locked``, saying why and since when) until an
admin unlocks it. API tokens are created by an admin, shown once, stored as SHA-256 hashes and
revocable; a revoked or expired token is refused like one nobody issued.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from central.core import security
from central.core.epoch import iso, now_us
from central.errors import Conflict, Forbidden, NotFound
from central.models import ApiToken, ApiTokenCreate, Role, ScopeKind, User

from . import audit
from .audit import Actor
from .registry import check_scope, check_scope_exists, check_scope_key, user_for_token

LAST_USED_EVERY_US = 300 * 1_000_000
"""An API token's ``last_used_ts`` is written at most this often (a write per request would
contend with ingest on SQLite)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user or an API token, with its role and scope."""

    kind: str
    """``user`` or ``token``."""
    id: int
    name: str
    role: Role
    scope_kind: ScopeKind
    scope_key: str | None
    locked_ts: int | None = None
    locked_reason: str | None = None

    @property
    def label(self) -> str:
        """How commands and logs name the caller (``user:alice``, ``token:hr-sync``)."""
        return f"{self.kind}:{self.name}"


def user_principal(user: User) -> Principal:
    assert user.id is not None
    return Principal(
        kind="user",
        id=user.id,
        name=user.username,
        role=Role(user.role),
        scope_kind=ScopeKind(user.scope_kind),
        scope_key=user.scope_key,
        locked_ts=user.locked_ts,
        locked_reason=user.locked_reason,
    )


def token_principal(token: ApiToken) -> Principal:
    assert token.id is not None
    return Principal(
        kind="token",
        id=token.id,
        name=token.name,
        role=Role(token.role),
        scope_kind=ScopeKind(token.scope_kind),
        scope_key=token.scope_key,
        locked_ts=token.locked_ts,
        locked_reason=token.locked_reason,
    )


def locked_refusal(principal: Principal) -> Forbidden:
    what = "account" if principal.kind == "user" else "API token"
    how = (
        f"hse-central user unlock {principal.name}"
        if principal.kind == "user"
        else f"POST /api/v1/tokens/{principal.id}/unlock"
    )
    return Forbidden(
        f"this {what} is locked since {iso(principal.locked_ts)}: {principal.locked_reason}; "
        f"an admin must review and unlock it ({how})",
        error="account_locked",
    )


def principal_for_token(session: Session, *, token: str) -> Principal | None:
    """The caller holding a user or API bearer token (locked ones too), or None."""
    kind = security.token_kind(token)
    if kind == security.TokenKind.USER:
        user = user_for_token(session, token=token)
        return user_principal(user) if user is not None else None
    if kind != security.TokenKind.API:
        return None
    now = now_us()
    row = session.exec(
        select(ApiToken).where(
            ApiToken.token_hash == security.hash_token(token),
            col(ApiToken.revoked_ts).is_(None),
        )
    ).first()
    if row is None or (row.expires_ts is not None and row.expires_ts <= now):
        return None
    return token_principal(row)


def _use_due(last_used_ts: int | None, now: int) -> bool:
    return last_used_ts is None or now - last_used_ts > LAST_USED_EVERY_US


def api_token_use_due(session: Session, *, token_id: int) -> bool:
    """Whether :func:`api_token_used` has a use to note (asked of the read session that
    found the token, so the row comes from the session, not the database)."""
    row = session.get(ApiToken, token_id)
    return row is not None and _use_due(row.last_used_ts, now_us())


def api_token_used(session: Session, *, token_id: int) -> None:
    """Note the token's use, at most every few minutes (the caller commits)."""
    now = now_us()
    row = session.get(ApiToken, token_id)
    if row is not None and _use_due(row.last_used_ts, now):
        row.last_used_ts = now
        session.add(row)


def create_api_token(
    session: Session, *, token_in: ApiTokenCreate, created_by: str
) -> tuple[ApiToken, str]:
    """A new API token; returns the row and the token (shown this once, stored as a hash)."""
    if session.exec(select(ApiToken).where(ApiToken.name == token_in.name)).first() is not None:
        raise Conflict(f"API token {token_in.name!r} exists already", location=["name"])
    check_scope(role=token_in.role, scope_kind=token_in.scope_kind)
    check_scope_key(scope_kind=token_in.scope_kind, scope_key=token_in.scope_key)
    check_scope_exists(session, scope_kind=token_in.scope_kind, scope_key=token_in.scope_key)
    token = security.new_token(security.TokenKind.API)
    now = now_us()
    row = ApiToken(
        name=token_in.name,
        token_hash=security.hash_token(token),
        role=Role(token_in.role).value,
        scope_kind=ScopeKind(token_in.scope_kind).value,
        scope_key=token_in.scope_key,
        created_by=created_by,
        created_ts=now,
        expires_ts=now + token_in.expires_days * 86_400_000_000 if token_in.expires_days else None,
    )
    session.add(row)
    session.flush()
    return row, token


def api_token(session: Session, *, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token with id {token_id}", location=["token_id"])
    return row


def revoke_api_token(session: Session, *, token_id: int) -> ApiToken:
    row = api_token(session, token_id=token_id)
    if row.revoked_ts is None:
        row.revoked_ts = now_us()
        session.add(row)
        session.flush()
    return row


def lock(session: Session, *, principal: Principal, reason: str, now: int) -> None:
    """Lock the account (user or API token) of ``principal``."""
    row: User | ApiToken | None = (
        session.get(User, principal.id)
        if principal.kind == "user"
        else session.get(ApiToken, principal.id)
    )
    if row is None:
        return
    row.locked_ts = now
    row.locked_reason = reason[:500]
    session.add(row)
    session.flush()


def user_by_name(session: Session, *, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", location=["username"])
    return user


def unlock(
    session: Session, *, row: User | ApiToken, actor: Actor, now: int, comment: str
) -> tuple[int | None, str | None]:
    """Clear the lock and audit it (``account.unlock``, with the review's ``comment``);
    returns what the lock was (time, reason)."""
    was_ts, was_reason = row.locked_ts, row.locked_reason
    row.locked_ts = None
    row.locked_reason = None
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        now=now,
        action="account.unlock",
        category="audit",
        records=[f"user:{row.username}" if isinstance(row, User) else f"token:{row.name}"],
        details={"was_locked_at": iso(was_ts), "was_reason": was_reason, "comment": comment},
    )
    return was_ts, was_reason


__all__ = [
    "Principal",
    "api_token",
    "api_token_use_due",
    "api_token_used",
    "create_api_token",
    "lock",
    "locked_refusal",
    "principal_for_token",
    "revoke_api_token",
    "token_principal",
    "unlock",
    "user_by_name",
    "user_principal",
]
