"""``hse-central``: serve the API, create the schema, register agents and users.

    hse-central [--config FILE] [--database-url URL] serve [--host H] [--port P] [--workers N]
    hse-central init
    hse-central agent add --plant P [--region R] [--agent-id A]     prints the token once
    hse-central agent list [--plant P]
    hse-central user add NAME --role admin|viewer [--scope fleet|region:R|plant:P]
                              [--password-file F]      (or HSE_CENTRAL_USER_PASSWORD, or a prompt)
    hse-central user list
    hse-central config show                             settings in force, secrets masked

Exit status: 0 done, 1 refused (exists already, not found, database error), 2 bad usage or
settings. The agent token goes to stdout alone, so ``TOKEN=$(hse-central agent add ...)`` works;
everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import Session, col, select

from . import crud
from .core.config import CONFIG_ENV, ENV_PREFIX, Settings, load_settings
from .core.db import init_db, make_engine, write_session
from .core.logging import configure_logging
from .errors import CentralError, RequestRefused, SettingsError
from .ingest.body import format_location
from .models import Agent, Plant, Region, Role, ScopeKind, User, UserCreate

PASSWORD_ENV = ENV_PREFIX + "USER_PASSWORD"


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hse-central",
        description="Central server of the HSE sensor platform.",
        epilog=f"Settings come from defaults < --config FILE (or {CONFIG_ENV}) < "
        f"{ENV_PREFIX}<KEY> variables < options.",
    )
    p.add_argument("--config", type=Path, help="YAML settings file")
    p.add_argument("--database-url", help="sqlite:///path.db or postgresql://user@host/db")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the HTTP API (uvicorn)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        default=None,
        help="do not log every request",
    )
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    sub.add_parser("init", help="create the database schema (idempotent)")

    agent = sub.add_parser("agent", help="register and list edge agents")
    agent_sub = agent.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = agent_sub.add_parser("add", help="register an agent; prints its token once")
    add.add_argument("--plant", required=True, help="plant key (created when new)")
    add.add_argument("--region", help="region of a new plant (default 'default')")
    add.add_argument("--agent-id", help="agent key (default <plant>-<random>)")
    alist = agent_sub.add_parser("list", help="list agents")
    alist.add_argument("--plant", help="only this plant's agents")

    user = sub.add_parser("user", help="register and list users")
    user_sub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    uadd = user_sub.add_parser("add", help="register a user")
    uadd.add_argument("name", help="login name")
    uadd.add_argument("--role", required=True, choices=[r.value for r in Role])
    uadd.add_argument(
        "--scope", default="fleet", help="fleet (default), region:<key> or plant:<key>"
    )
    uadd.add_argument("--password-file", type=Path, help="file whose first line is the password")
    user_sub.add_parser("list", help="list users")

    config = sub.add_parser("config", help="show settings")
    config_sub = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    config_sub.add_parser("show", help="print the settings in force as JSON (secrets masked)")
    return p


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"database_url": args.database_url}
    if args.command == "serve":
        overrides.update(
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=args.access_log,
            log_level=args.log_level,
        )
    return load_settings(config_file=args.config, overrides=overrides)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _read_password(args: argparse.Namespace) -> str:
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


def _scope(text: str) -> tuple[ScopeKind, str | None]:
    if text == "fleet":
        return ScopeKind.FLEET, None
    kind, _, key = text.partition(":")
    if kind not in {"region", "plant"} or not key:
        raise UsageError(f"--scope {text!r}: expected fleet, region:<key> or plant:<key>")
    return ScopeKind(kind), key


def _serve(settings: Settings) -> int:
    import uvicorn

    from .main import create_app

    if settings.workers > 1:
        # Workers are separate processes: they read the same settings from the environment.
        for key, value in settings.model_dump(mode="json").items():
            os.environ[ENV_PREFIX + key.upper()] = str(value)
        uvicorn.run(
            "central.main:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            access_log=settings.access_log,
            log_level=settings.log_level,
        )
        return 0
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        log_level=settings.log_level,
    )
    return 0


def _agent_add(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings)
    try:
        init_db(engine)
        with write_session(engine) as session:
            agent, token = crud.create_agent(
                session, plant=args.plant, region=args.region, agent_key=args.agent_id
            )
            key = agent.key
        _err(f"agent {key!r} registered for plant {args.plant!r}; its token (shown once):")
        print(token)
    finally:
        engine.dispose()
    return 0


def _agent_list(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            stmt = (
                select(Agent.key, Plant.key, Region.key, Agent.is_active)
                .join(Plant, col(Plant.id) == Agent.plant_id)
                .join(Region, col(Region.id) == Plant.region_id)
                .order_by(col(Agent.key))
            )
            if args.plant:
                stmt = stmt.where(Plant.key == args.plant)
            for agent_key, plant_key, region_key, active in session.exec(stmt):
                state = "active" if active else "disabled"
                print(f"{agent_key}\tplant={plant_key}\tregion={region_key}\t{state}")
    finally:
        engine.dispose()
    return 0


def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    kind, key = _scope(args.scope)
    password = _read_password(args)
    try:
        user_in = UserCreate(
            username=args.name, password=password, role=args.role, scope_kind=kind, scope_key=key
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{format_location(e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise UsageError(problems) from None  # from None: the error would echo the password
    engine = make_engine(settings)
    try:
        init_db(engine)
        with write_session(engine) as session:
            user = crud.create_user(session, user_in=user_in)
            user_id = user.id
        _err(f"user {args.name!r} registered (id {user_id}, role {args.role}, scope {args.scope})")
    finally:
        engine.dispose()
    return 0


def _user_list(settings: Settings) -> int:
    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            for u in session.exec(select(User).order_by(col(User.id))):
                scope = u.scope_kind if u.scope_key is None else f"{u.scope_kind}:{u.scope_key}"
                active = "active" if u.is_active else "disabled"
                print(f"{u.id}\t{u.username}\trole={u.role}\tscope={scope}\t{active}")
    finally:
        engine.dispose()
    return 0


def _init(settings: Settings) -> int:
    engine = make_engine(settings)
    try:
        init_db(engine)
    finally:
        engine.dispose()
    _err(f"schema ready in {settings.database_url_masked}")
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        configure_logging(level=settings.log_level, fmt=settings.log_format)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "init":
            return _init(settings)
        if args.command == "config":
            print(json.dumps(settings.safe_dict(), indent=2, default=str))
            return 0
        if args.command == "agent":
            return (
                _agent_add(settings, args) if args.action == "add" else _agent_list(settings, args)
            )
        if args.command == "user":
            return _user_add(settings, args) if args.action == "add" else _user_list(settings)
    except (SettingsError, UsageError) as exc:
        _err(f"hse-central: {exc}")
        return 2
    except RequestRefused as exc:
        _err(f"hse-central: {exc.detail}")
        return 1
    except CentralError as exc:
        _err(f"hse-central: {exc}")
        return 1
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse requires one


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
