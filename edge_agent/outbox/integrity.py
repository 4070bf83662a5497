"""Opening the outbox file: lock it, check it, and move a corrupt one aside.

A file that is not a SQLite database, or fails ``PRAGMA quick_check``, is renamed with its
``-wal`` and ``-shm`` to ``<name>.corrupt-<UTC timestamp>`` (kept for recovery: open the renamed
file with its renamed ``-wal`` beside it) and the caller starts a fresh file. A file another
process holds, or a file we may not read, is never moved: those raise.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiosqlite

from edge_agent.records import EventRecord
from protocols.sync import EventCategory, Priority

from .errors import OutboxLockedError, OutboxStorageError
from .schema import CONNECTION_PRAGMAS, DDL, FRESH_FILE_PRAGMAS, TEMP_DDL

_SQLITE_HEADER: Final = b"SQLite format 3\x00"
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
_SQLITE_CORRUPT: Final = 11
_SQLITE_NOTADB: Final = 26
_COMPANIONS: Final = ("-wal", "-shm", "-journal")
KIND_RESET: Final = "system.outbox_reset"


class CorruptOutboxError(Exception):
    """Internal: the file at ``path`` is not a usable outbox database (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class MovedFile:
    """Where a corrupt outbox went, and why it was moved."""

    reason: str
    paths: tuple[Path, ...]


async def connect_checked(
    path: Path,
    *,
    wal_autocheckpoint_pages: int,
    journal_size_limit_bytes: int,
    busy_timeout_s: float,
) -> aiosqlite.Connection:
    """Open ``path`` exclusively in WAL mode, check its integrity, create the schema.

    Raises ``CorruptOutboxError`` for a damaged file, ``OutboxLockedError`` when another process
    holds it, ``OutboxStorageError`` for anything else SQLite or the OS refuses.
    """
    fresh = _is_empty(path)
    if not fresh:
        _check_header(path)
    try:
        db = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_s)
    except sqlite3.Error as exc:
        raise _translate(exc, path) from exc
    try:
        if fresh:
            for pragma in FRESH_FILE_PRAGMAS:
                await db.execute(pragma)
        # Exclusive before WAL: no shared-memory index, and no second agent on the same file.
        await db.execute("PRAGMA locking_mode=EXCLUSIVE")
        await db.execute("PRAGMA journal_mode=WAL")
        for pragma in CONNECTION_PRAGMAS:
            await db.execute(pragma)
        await db.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint_pages)}")
        await db.execute(f"PRAGMA journal_size_limit={int(journal_size_limit_bytes)}")
        await db.execute("BEGIN EXCLUSIVE")  # takes the file lock now, not at the first write
        await db.execute("COMMIT")
        async with db.execute("PRAGMA quick_check") as cursor:
            verdict = [str(row[0]) for row in await cursor.fetchall()]
        if verdict != ["ok"]:
            raise CorruptOutboxError("quick_check: " + "; ".join(verdict[:5]))
        for statement in (*DDL, *TEMP_DDL):
            await db.execute(statement)
    except sqlite3.Error as exc:
        await db.close()
        raise _translate(exc, path) from exc
    except BaseException:
        await db.close()
        raise
    return db


def move_aside(path: Path, reason: str, *, now: float) -> MovedFile:
    """Rename ``path`` and its companions to ``<name>.corrupt-<UTC timestamp>[-n]``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    base = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 0
    while any(Path(str(base) + s).exists() for s in ("", *_COMPANIONS)):
        n += 1
        base = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    moved: list[Path] = []
    for suffix in ("", *_COMPANIONS):
        source = Path(str(path) + suffix)
        if source.exists():
            target = Path(str(base) + suffix)
            source.rename(target)
            moved.append(target)
    return MovedFile(reason=reason, paths=tuple(moved))


def _is_empty(path: Path) -> bool:
    """A missing or zero-length file (with no WAL content) holds nothing: it is simply new."""
    wal = Path(str(path) + "-wal")
    main_size = path.stat().st_size if path.exists() else 0
    wal_size = wal.stat().st_size if wal.exists() else 0
    return main_size == 0 and wal_size == 0


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise OutboxStorageError(f"cannot read outbox file {path}: {exc}") from exc
    if len(header) < 100 or not header.startswith(_SQLITE_HEADER):
        raise CorruptOutboxError(
            f"not a SQLite database (header {header[:16]!r}, {path.stat().st_size} bytes)"
        )


def _translate(exc: sqlite3.Error, path: Path) -> Exception:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return CorruptOutboxError(f"{getattr(exc, 'sqlite_errorname', 'SQLITE_CORRUPT')}: {exc}")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return OutboxLockedError(f"outbox file {path} is held by another process: {exc}")
    return OutboxStorageError(f"cannot open outbox file {path}: {exc}")


def reset_event(moved: MovedFile, *, floor: int, now: float) -> EventRecord:
    """The ``system.outbox_reset`` event: where the old file went, and why."""
    where = ", ".join(str(p) for p in moved.paths)
    return EventRecord(
        event_id=uuid.uuid4().hex,
        category=EventCategory.SYSTEM,
        kind=KIND_RESET,
        transition="occurred",
        ts=now,
        priority=Priority.HIGH,
        message=(
            f"the outbox file failed its integrity check ({moved.reason}); it was moved to"
            f" {where} for recovery and a fresh outbox was started"
        )[:2000],
        details={
            "moved_to": [str(p) for p in moved.paths],
            "reason": moved.reason[:1000],
            "seq_floor": floor,
        },
    )
