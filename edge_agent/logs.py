"""structlog set-up: JSON lines when not on a terminal, coloured console on one."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SECRET_KEYS = {"token", "password", "secret", "authorization", "api_key"}


def _drop_secrets(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Last line of defence: a key that names a secret is never written out."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
    return event


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    json = not sys.stderr.isatty() if json is None else json
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    processors.append(
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through stdlib logging: keep them quiet unless something is wrong.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # The drivers report connection problems themselves (once per state change, as data); the
    # libraries' own per-attempt error lines would repeat them on every retry.
    for name in ("pymodbus", "pymodbus.logging"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
