"""``/api/v1/auth``: log in (OAuth2 password form) for an expiring bearer token, log out."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm

from central import crud
from central.api.deps import API_PREFIX, CurrentUser, StateDep, UserTokenDep, WriteSessionDep
from central.core.epoch import iso
from central.crud.accounts import locked_refusal, user_principal
from central.errors import Unauthenticated
from central.models import TokenPublic

router = APIRouter(prefix=API_PREFIX + "/auth", tags=["auth"])
log = structlog.get_logger("central.auth")


@router.post("/token", response_model=TokenPublic)
def login(
    state: StateDep,
    session: WriteSessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenPublic:
    """Exchange a username and password for a bearer token valid ``user_token_ttl_s``."""
    user = crud.authenticate(session, username=form.username, password=form.password)
    if user is None:
        state.metrics.auth_failures.labels("login").inc()
        # Neither the name nor the password is logged: a mistyped password is often another
        # account's password, and a name is personal data.
        log.warning("login refused")
        raise Unauthenticated("incorrect username or password", error="bad_credentials")
    if user.locked_ts is not None:
        state.metrics.auth_failures.labels("locked").inc()
        log.warning("login refused: account locked", user_id=user.id)
        raise locked_refusal(user_principal(user))
    token, expires = crud.issue_user_token(
        session, user=user, ttl_s=state.settings.user_token_ttl_s
    )
    session.commit()
    log.info("login", user_id=user.id)
    return TokenPublic(access_token=token, expires_at=iso(expires) or "")


@router.delete("/token", status_code=204)
def logout(user: CurrentUser, session: WriteSessionDep, token: UserTokenDep) -> Response:
    """Revoke the token this request carries."""
    assert token is not None
    crud.revoke_user_token(session, token=token)
    session.commit()
    log.info("logout", user_id=user.id)
    return Response(status_code=204)
