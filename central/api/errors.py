"""Every refusal as a JSON :class:`protocols.sync.ErrorDetail`: what was wrong and where.

``RequestRefused`` carries its status; FastAPI's own validation errors (query parameters, forms,
JSON bodies of admin endpoints) and routing errors get the same shape. Database failures answer
503 (retriable: try again) or 500, with the details in the log, not in the answer.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.core.db import translate
from central.errors import RequestRefused, StoreError
from central.ingest.body import format_location
from protocols.sync import ErrorDetail

log = structlog.get_logger("central.api")


def error_response(
    status: int,
    error: str,
    detail: str,
    location: list[str | int] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorDetail(error=error, detail=detail, location=location or [])
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def on_refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRefused)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return error_response(exc.status_code, exc.error, exc.detail, exc.location, headers)


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    log.error("database error", path=request.url.path, error=str(exc), retriable=exc.retriable)
    if exc.retriable:
        return error_response(
            503,
            "store_unavailable",
            "the database is busy or unreachable; nothing was stored, try again",
            headers={"Retry-After": "5"},
        )
    return error_response(500, "store_failed", "the database refused the operation")


async def on_db_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    return await on_store_error(request, translate(exc, "reading the database"))


async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    parts = []
    for err in errors[:5]:
        parts.append(f"{format_location(err['loc'])}: {err['msg']}")
    location = list(errors[0]["loc"]) if errors else []
    return error_response(422, "invalid", "; ".join(parts) or "invalid request", location)


async def on_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http_error"),
        str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestRefused, on_refused)
    app.add_exception_handler(StoreError, on_store_error)
    app.add_exception_handler(DBAPIError, on_db_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
