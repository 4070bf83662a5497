"""``hse-central``: serve the API, create the schema, manage the org tree, accounts, personnel.

    hse-central [--config FILE] [--database-url URL] serve [--host H] [--port P] [--workers N]
    hse-central init
    hse-central agent add --plant P [--region R] [--agent-id A]     prints the token once
    hse-central agent list [--plant P]
    hse-central region add KEY [--name N]
    hse-central plant add KEY [--region R] [--limit-set ID] [--timezone TZ] [--name N]
    hse-central plant set KEY [--limit-set ID] [--timezone TZ] [--name N]
    hse-central plant list
    hse-central user add NAME --role ROLE [--region R | --plant P | --scope S]
                              [--password-file F]      (or HSE_CENTRAL_USER_PASSWORD, or a prompt)
    hse-central user list
    hse-central user unlock NAME [--comment TEXT]        after review of an export burst (audited)
    hse-central token add NAME --role ROLE [--region R | --plant P] [--expires-days N]
    hse-central token list | revoke NAME | unlock NAME
    hse-central personnel import FILE --plant P [--replace]
    hse-central config show                             settings in force, secrets masked

Roles: admin, hq_director, regional_manager, plant_safety_officer, operator, auditor, viewer
(``central.core.permissions``). Exit status: 0 done, 1 refused (exists already, not found, bad
file, database error), 2 bad usage or settings. Tokens go to stdout alone, so
``TOKEN=$(hse-central agent add ...)`` works; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from central.core.config import CONFIG_ENV, ENV_PREFIX, Settings, load_settings
from central.core.logging import configure_logging
from central.errors import CentralError, RequestRefused, SettingsError

from . import accounts, org, people
from .common import UsageError, engine_for, err


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

    sub.add_parser("init", help="create the database schema (idempotent; upgrades an older one)")
    org.add_parsers(sub)
    accounts.add_parsers(sub)
    people.add_parsers(sub)

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


def _serve(settings: Settings) -> int:
    import uvicorn

    from central.main import create_app

    if settings.workers > 1:
        # Workers are separate processes: they read the same settings from the environment.
        for key, value in settings.model_dump(mode="json").items():
            os.environ[ENV_PREFIX + key.upper()] = (
                json.dumps(value) if isinstance(value, list) else str(value)
            )
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


def _init(settings: Settings) -> int:
    with engine_for(settings):
        pass
    err(f"schema ready in {settings.database_url_masked}")
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
        if args.command in {"agent", "region", "plant"}:
            return org.run(settings, args)
        if args.command in {"user", "token"}:
            return accounts.run(settings, args)
        if args.command == "personnel":
            return people.run(settings, args)
    except (SettingsError, UsageError) as exc:
        err(f"hse-central: {exc}")
        return 2
    except RequestRefused as exc:
        err(f"hse-central: {exc.detail}")
        return 1
    except CentralError as exc:
        err(f"hse-central: {exc}")
        return 1
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse requires one


def main(argv: Sequence[str] | None = None) -> None:
    import sys

    sys.exit(run(argv))


if __name__ == "__main__":
    main()
