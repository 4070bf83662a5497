"""Errors raised by the central server, one tree for the whole package.

    CentralError                 base of everything central raises on purpose
    ├── SettingsError            a setting is wrong: names the key, where it came from, the
    │                            (masked) value and what was expected (never retriable)
    ├── StoreError               the database failed; ``retriable`` says whether trying the same
    │                            transaction again can help (lock timeouts, deadlocks, a lost
    │                            connection) or not (schema missing, constraint broken)
    └── RequestRefused           an HTTP request is refused with a status and an ``ErrorDetail``
        ├── Unauthenticated      401: no credentials, or credentials nobody issued / expired
        ├── Forbidden            403: valid credentials, not allowed to do this here
        ├── NotFound             404: nothing of that name within the caller's scope
        ├── Conflict             409: it exists already, or contradicts what exists
        ├── BadRequest           400: the body cannot be read (bad gzip framing)
        ├── TooLarge             413: body or record count over a configured limit
        └── Unprocessable        422: the body reads but breaks the schema or a plausibility
                                 rule (timestamps), with the location of the first problem

The API layer turns every ``RequestRefused`` into a JSON :class:`protocols.sync.ErrorDetail`.
"""

from __future__ import annotations

from collections.abc import Sequence


class CentralError(Exception):
    """Base class. ``retriable`` says whether the same call may succeed later."""

    retriable: bool = False


class SettingsError(CentralError, ValueError):
    """A setting is invalid or unknown; the message names key, source, value and expectation."""


class StoreError(CentralError):
    """The database refused or failed a transaction."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class RequestRefused(CentralError):
    """An HTTP request that central refuses, with a machine-readable ``error`` code."""

    status_code: int = 400
    error: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        error: str | None = None,
        location: Sequence[str | int] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if error is not None:
            self.error = error
        self.location: list[str | int] = list(location)


class Unauthenticated(RequestRefused):
    status_code = 401
    error = "unauthenticated"


class Forbidden(RequestRefused):
    status_code = 403
    error = "forbidden"


class NotFound(RequestRefused):
    status_code = 404
    error = "not_found"


class Conflict(RequestRefused):
    status_code = 409
    error = "conflict"


class BadRequest(RequestRefused):
    status_code = 400
    error = "bad_request"


class TooLarge(RequestRefused):
    status_code = 413
    error = "too_large"


class Unprocessable(RequestRefused):
    status_code = 422
    error = "invalid"
