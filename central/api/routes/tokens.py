"""``/api/v1/tokens``: API tokens for integrations (an HR system, a reporting tool).

Created by an admin with a role and a scope like a user's, shown once, stored hashed; revoked
tokens stay listed. Creating, revoking and unlocking a token are audited.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from sqlmodel import col, select

from central.api.deps import (
    API_PREFIX,
    OrgManager,
    SessionDep,
    StateDep,
    WriteSessionDep,
    page_limit,
)
from central.api.routes.users import UnlockIn
from central.core.epoch import iso
from central.crud import accounts, audit
from central.models import ApiToken, ApiTokenCreate, ApiTokenCreated, ApiTokenPublic

router = APIRouter(prefix=API_PREFIX + "/tokens", tags=["tokens"])
log = structlog.get_logger("central.tokens")


def public(row: ApiToken) -> ApiTokenPublic:
    assert row.id is not None
    return ApiTokenPublic(
        id=row.id,
        name=row.name,
        role=row.role,
        scope_kind=row.scope_kind,
        scope_key=row.scope_key,
        created_by=row.created_by,
        created_at=iso(row.created_ts) or "",
        expires_at=iso(row.expires_ts),
        revoked_at=iso(row.revoked_ts),
        last_used_at=iso(row.last_used_ts),
        locked_at=iso(row.locked_ts),
        locked_reason=row.locked_reason,
    )


@router.post("", response_model=ApiTokenCreated, status_code=201)
def create_token(
    state: StateDep, admin: OrgManager, session: WriteSessionDep, token_in: ApiTokenCreate
) -> ApiTokenCreated:
    """A new API token; the token is in this answer only."""
    row, token = accounts.create_api_token(session, token_in=token_in, created_by=admin.label)
    audit.record(
        session,
        actor=admin.actor,
        now=state.clock.now_us(),
        action="token.create",
        category="organisation",
        records=[f"token:{row.name}"],
        details={"role": row.role, "scope_kind": row.scope_kind, "scope_key": row.scope_key},
    )
    session.commit()
    log.info("api token created", token_id=row.id, role=row.role, by=admin.label)
    return ApiTokenCreated(**public(row).model_dump(), token=token)


@router.get("", response_model=list[ApiTokenPublic])
def list_tokens(
    state: StateDep,
    _admin: OrgManager,
    session: SessionDep,
    limit: Annotated[int | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ApiTokenPublic]:
    rows = session.exec(
        select(ApiToken).order_by(col(ApiToken.id)).offset(offset).limit(page_limit(state, limit))
    ).all()
    return [public(r) for r in rows]


@router.delete("/{token_id}", response_model=ApiTokenPublic)
def revoke_token(
    state: StateDep, admin: OrgManager, session: WriteSessionDep, token_id: int
) -> ApiTokenPublic:
    """Revoke a token: it is refused from now on (it stays listed, for the audit log)."""
    row = accounts.revoke_api_token(session, token_id=token_id)
    audit.record(
        session,
        actor=admin.actor,
        now=state.clock.now_us(),
        action="token.revoke",
        category="organisation",
        records=[f"token:{row.name}"],
    )
    session.commit()
    log.info("api token revoked", token_id=row.id, by=admin.label)
    return public(row)


@router.post("/{token_id}/unlock", response_model=ApiTokenPublic)
def unlock_token(
    state: StateDep,
    admin: OrgManager,
    session: WriteSessionDep,
    token_id: int,
    body: UnlockIn | None = None,
) -> ApiTokenPublic:
    row = accounts.api_token(session, token_id=token_id)
    accounts.unlock(
        session,
        row=row,
        actor=admin.actor,
        now=state.clock.now_us(),
        comment=body.comment if body else "",
    )
    session.commit()
    log.info("api token unlocked", token_id=row.id, by=admin.label)
    return public(row)
