"""Errors raised by the outbox.

Every error says whether retrying the same call can help (``retriable``).

    OutboxError                  base of everything the outbox raises
    ├── OutboxClosedError        the outbox was used after ``close()`` (a bug in the caller)
    ├── OutboxLockedError        another process has the outbox file open (retriable)
    ├── OutboxSchemaError        the file was written by a newer schema version (never retriable)
    ├── OutboxStorageError       SQLite or the disk failed a read or write (retriable: disk full,
    │                            I/O error); records not yet accepted were not accepted
    └── InvalidRecordError       a record does not fit the wire schema (also a ``ValueError``);
                                 the message names the field, the value and the expectation

A corrupt file found at open is not an error: it is moved aside and reported as an event.
"""

from __future__ import annotations

__all__ = [
    "InvalidRecordError",
    "OutboxClosedError",
    "OutboxError",
    "OutboxLockedError",
    "OutboxSchemaError",
    "OutboxStorageError",
]


class OutboxError(Exception):
    """Base class. ``retriable`` says whether the same call may succeed later."""

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class OutboxClosedError(OutboxError):
    """The outbox is closed."""


class OutboxLockedError(OutboxError):
    """Another process holds the outbox file (two agents configured with one store?)."""

    retriable = True


class OutboxSchemaError(OutboxError):
    """The file's schema version is newer than this code understands; it is left untouched."""


class OutboxStorageError(OutboxError):
    """SQLite or the file system failed; nothing already committed is affected."""

    retriable = True


class InvalidRecordError(OutboxError, ValueError):
    """A record that cannot be sent as it is; the message says which field and why."""
