"""``hse-central user ...`` and ``hse-central token ...``: accounts, locks, API tokens."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import Session, col, select

from central import crud
from central.core.config import ENV_PREFIX, Settings
from central.core.db import write_session
from central.core.epoch import iso, now_us
from central.crud import accounts, audit
from central.ingest.body import format_location
from central.models import ApiToken, ApiTokenCreate, Role, ScopeKind, User, UserCreate

from .common import UsageError, cli_actor, engine_for, err

PASSWORD_ENV = ENV_PREFIX + "USER_PASSWORD"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="register, list and unlock users")
    user_sub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    uadd = user_sub.add_parser("add", help="register a user")
    uadd.add_argument("name", help="login name")
    uadd.add_argument("--role", required=True, choices=[r.value for r in Role])
    _scope_options(uadd)
    uadd.add_argument("--password-file", type=Path, help="file whose first line is the password")
    user_sub.add_parser("list", help="list users (locked ones say so)")
    unlock = user_sub.add_parser("unlock", help="unlock an account after review (audited)")
    unlock.add_argument("name", help="login name")
    unlock.add_argument("--comment", default="", help="what the review found")

    token = sub.add_parser("token", help="API tokens for integrations")
    token_sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    tadd = token_sub.add_parser("add", help="create an API token; prints it once")
    tadd.add_argument("name", help="a name for the integration (hr-sync)")
    tadd.add_argument("--role", required=True, choices=[r.value for r in Role])
    _scope_options(tadd)
    tadd.add_argument(
        "--expires-days", type=int, help="valid this many days (default: until revoked)"
    )
    token_sub.add_parser("list", help="list API tokens")
    revoke = token_sub.add_parser("revoke", help="revoke an API token")
    revoke.add_argument("name", help="the token's name")
    tunlock = token_sub.add_parser("unlock", help="unlock a locked API token (audited)")
    tunlock.add_argument("name", help="the token's name")
    tunlock.add_argument("--comment", default="")


def _scope_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--region", help="limit to this region")
    group.add_argument("--plant", help="limit to this plant")
    group.add_argument("--scope", help="fleet, region:<key> or plant:<key> (same as above)")


def scope_of(args: argparse.Namespace) -> tuple[ScopeKind, str | None]:
    if args.region:
        return ScopeKind.REGION, args.region
    if args.plant:
        return ScopeKind.PLANT, args.plant
    text = args.scope or "fleet"
    if text == "fleet":
        return ScopeKind.FLEET, None
    kind, _, key = text.partition(":")
    if kind not in {"region", "plant"} or not key:
        raise UsageError(f"--scope {text!r}: expected fleet, region:<key> or plant:<key>")
    return ScopeKind(kind), key


def _read_password(args: argparse.Namespace) -> str:
    import getpass

    if args.password_file is not None:
        path: Path = args.password_file
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"--password-file {args.password_file}: {exc.strerror}") from exc
        if not lines or not lines[0]:
            raise UsageError(f"--password-file {args.password_file}: the first line is empty")
        return lines[0]
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise UsageError(
            f"no password: give --password-file, set {PASSWORD_ENV}, or run on a terminal"
        )
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the passwords differ")
    return first


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{format_location(e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)
    )


def user_add(settings: Settings, args: argparse.Namespace) -> int:
    kind, key = scope_of(args)
    password = _read_password(args)
    try:
        user_in = UserCreate(
            username=args.name, password=password, role=args.role, scope_kind=kind, scope_key=key
        )
    except ValidationError as exc:
        raise UsageError(_problems(exc)) from None  # from None: the error would echo the password
    with engine_for(settings) as engine, write_session(engine) as session:
        user = crud.create_user(session, user_in=user_in)
        user_id = user.id
    scope = "fleet" if key is None else f"{kind.value}:{key}"
    err(f"user {args.name!r} registered (id {user_id}, role {args.role}, scope {scope})")
    return 0


def user_list(settings: Settings) -> int:
    with engine_for(settings, init=False) as engine, Session(engine) as session:
        for u in session.exec(select(User).order_by(col(User.id))):
            scope = u.scope_kind if u.scope_key is None else f"{u.scope_kind}:{u.scope_key}"
            state = "active" if u.is_active else "disabled"
            if u.locked_ts is not None:
                state = f"LOCKED since {iso(u.locked_ts)}: {u.locked_reason}"
            print(f"{u.id}\t{u.username}\trole={u.role}\tscope={scope}\t{state}")
    return 0


def user_unlock(settings: Settings, args: argparse.Namespace) -> int:
    with engine_for(settings) as engine, write_session(engine) as session:
        user = accounts.user_by_name(session, username=args.name)
        if user.locked_ts is None:
            err(f"user {args.name!r} is not locked")
            return 0
        was_ts, was_reason = accounts.unlock(
            session, row=user, actor=cli_actor(), now=now_us(), comment=args.comment
        )
    err(f"user {args.name!r} unlocked (was locked since {iso(was_ts)}: {was_reason})")
    return 0


def token_add(settings: Settings, args: argparse.Namespace) -> int:
    kind, key = scope_of(args)
    try:
        token_in = ApiTokenCreate(
            name=args.name,
            role=args.role,
            scope_kind=kind,
            scope_key=key,
            expires_days=args.expires_days,
        )
    except ValidationError as exc:
        raise UsageError(_problems(exc)) from None
    actor = cli_actor()
    with engine_for(settings) as engine, write_session(engine) as session:
        row, token = accounts.create_api_token(
            session, token_in=token_in, created_by=f"cli:{actor.name}"
        )
        audit.record(
            session,
            actor=actor,
            now=now_us(),
            action="token.create",
            category="organisation",
            records=[f"token:{row.name}"],
            details={"role": row.role, "scope_kind": row.scope_kind, "scope_key": row.scope_key},
        )
        token_id = row.id
    err(f"API token {args.name!r} created (id {token_id}, role {args.role}); shown once:")
    print(token)
    return 0


def _token_named(session: Session, name: str) -> ApiToken:
    row = session.exec(select(ApiToken).where(ApiToken.name == name)).first()
    if row is None:
        raise UsageError(f"no API token named {name!r} (hse-central token list)")
    return row


def token_list(settings: Settings) -> int:
    with engine_for(settings, init=False) as engine, Session(engine) as session:
        for t in session.exec(select(ApiToken).order_by(col(ApiToken.id))):
            scope = t.scope_kind if t.scope_key is None else f"{t.scope_kind}:{t.scope_key}"
            state = "revoked" if t.revoked_ts else ("LOCKED" if t.locked_ts else "active")
            print(f"{t.id}\t{t.name}\trole={t.role}\tscope={scope}\t{state}")
    return 0


def token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    with engine_for(settings) as engine, write_session(engine) as session:
        row = _token_named(session, args.name)
        assert row.id is not None
        accounts.revoke_api_token(session, token_id=row.id)
        audit.record(
            session,
            actor=cli_actor(),
            now=now_us(),
            action="token.revoke",
            category="organisation",
            records=[f"token:{row.name}"],
        )
    err(f"API token {args.name!r} revoked")
    return 0


def token_unlock(settings: Settings, args: argparse.Namespace) -> int:
    with engine_for(settings) as engine, write_session(engine) as session:
        row = _token_named(session, args.name)
        accounts.unlock(session, row=row, actor=cli_actor(), now=now_us(), comment=args.comment)
    err(f"API token {args.name!r} unlocked")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "user":
        if args.action == "add":
            return user_add(settings, args)
        if args.action == "unlock":
            return user_unlock(settings, args)
        return user_list(settings)
    if args.action == "add":
        return token_add(settings, args)
    if args.action == "revoke":
        return token_revoke(settings, args)
    if args.action == "unlock":
        return token_unlock(settings, args)
    return token_list(settings)


__all__ = ["add_parsers", "run", "scope_of"]
