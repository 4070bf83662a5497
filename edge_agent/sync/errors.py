"""Errors raised by the sync client. All are retriable: the client never gives up on central,
it only changes how long it waits (backoff, or slowly for a configuration problem).

    SyncError                       base of everything the sync client raises
    ├── CentralUnavailableError     no usable answer: connection refused or dropped, timeout,
    │                               HTTP 5xx or 429, an ack that does not parse (backoff)
    ├── CentralAuthError            HTTP 401/403: the token or the agent's registration is wrong
    │                               (a configuration error: logged once, retried slowly)
    └── CentralRefusedError         central refuses even an empty batch from this agent (HTTP 400,
                                    404, 409, or 422 for the batch itself): the agent or plant
                                    id, or the schema version, does not match (retried slowly)

Records are never lost to any of these: a batch that failed is released back to the outbox.
"""

from __future__ import annotations

__all__ = ["CentralAuthError", "CentralRefusedError", "CentralUnavailableError", "SyncError"]


class SyncError(Exception):
    """Base class. ``retriable`` is always true here; ``status`` is the HTTP status if any."""

    retriable: bool = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CentralUnavailableError(SyncError):
    """Central could not be reached or gave no usable answer. ``retry_after_s`` if it said so."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class CentralAuthError(SyncError):
    """Central refused the agent's credentials (401) or their scope (403)."""


class CentralRefusedError(SyncError):
    """Central refuses the agent's batches whatever records they hold."""
