"""What every simulator's ``python -m`` entry point shares: serve until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any


async def serve_until_signalled(
    server: AbstractAsyncContextManager[Any], banner: Callable[[], str]
) -> None:
    """Start ``server``, print ``banner()`` once it is up, stop it cleanly on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(banner(), flush=True)
        await stop.wait()


def read_users_file(path: Path) -> dict[str, str]:
    """``user:password`` lines (``#`` comments); passwords never come on the command line."""
    users = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, password = line.partition(":")
        if not sep or not name:
            raise SystemExit(f"{path}:{number}: expected 'user:password'")
        users[name] = password
    return users
