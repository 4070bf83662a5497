"""Keyset pagination cursors: ``<ts_us>:<agent_id>:<seq>`` (or ``<id>`` for registries).

A cursor is opaque to clients; it names the last row of a page, so the next page starts exactly
after it even when several rows share a timestamp.
"""

from __future__ import annotations

from central.errors import Unprocessable


def encode(*parts: int) -> str:
    return ":".join(str(p) for p in parts)


def refused(cursor: str) -> Unprocessable:
    """The error for a cursor this API did not issue (or that was altered)."""
    return Unprocessable(
        f"cursor {cursor[:40]!r} is not one this API issued; pass next_cursor unchanged",
        error="bad_cursor",
        location=["query", "cursor"],
    )


def decode(cursor: str, parts: int) -> tuple[int, ...]:
    try:
        values = tuple(int(p) for p in cursor.split(":"))
    except ValueError:
        values = ()
    if len(values) != parts:
        raise refused(cursor)
    return values
