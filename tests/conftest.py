"""Fixtures every tier shares, and the leak checks that keep the suite honest.

- Every async test ends with no stray asyncio task (``_no_task_leak``, added to async tests).
- Every test ends with no new non-daemon thread.
- Ports come from the OS; brokers and databases are per test (or per session) and always removed.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog

from tests.support import postgres
from tests.support.mosquitto import MOSQUITTO, Broker
from tests.support.ports import free_port


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        func = getattr(item, "function", None)
        if func is not None and inspect.iscoroutinefunction(func):
            # First in, last out: the task check runs after every other async fixture is torn
            # down, and the thread check after the event loop (and its executor) is closed.
            names = item.fixturenames  # type: ignore[attr-defined]
            if "_no_thread_leak" in names:
                names.remove("_no_thread_leak")
            names[:0] = ["_no_thread_leak", "_no_task_leak"]


@pytest.fixture
async def _no_task_leak() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    for _ in range(50):  # let tasks that are finishing finish (bounded: ~0.5 s)
        leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not leaked:
            return
        await asyncio.sleep(0.01)
    names = sorted(t.get_name() + ":" + repr(t.get_coro()) for t in leaked)
    for t in leaked:
        t.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    pytest.fail(f"test left {len(leaked)} asyncio task(s) running: {names}")


@pytest.fixture(autouse=True)
def _no_thread_leak() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leaked = [
            t
            for t in threading.enumerate()
            if t.ident not in before and t.is_alive() and not t.daemon
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if leaked:
        pytest.fail(f"test left non-daemon thread(s) running: {[t.name for t in leaked]}")


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A CLI run in-process configures structlog globally; later tests must not inherit it."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh mosquitto on a free port; ``broker.stop()`` / ``broker.start()`` for outages."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed")
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[Broker]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed")
    b = Broker(tmp_path, persistence=True)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test session; skipped when HSE_TEST_POSTGRES_URL is unset."""
    if postgres.admin_url() is None:
        pytest.skip(f"{postgres.ENV} is not set")
    with postgres.scratch_database() as url:
        yield url
