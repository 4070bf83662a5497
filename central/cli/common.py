"""What every ``hse-central`` command shares: usage errors, stderr, an engine, the CLI actor."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from central.core.config import Settings
from central.core.db import init_db, make_engine
from central.crud.audit import Actor


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


def err(text: str) -> None:
    print(text, file=sys.stderr)


@contextmanager
def engine_for(settings: Settings, *, init: bool = True) -> Iterator[Engine]:
    engine = make_engine(settings)
    try:
        if init:
            init_db(engine)
        yield engine
    finally:
        engine.dispose()


def cli_actor() -> Actor:
    """The audit log names CLI actions by the operating-system account that ran them."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):
        who = "unknown"
    return Actor(kind="cli", name=who, role="admin")


__all__ = ["UsageError", "cli_actor", "engine_for", "err"]
