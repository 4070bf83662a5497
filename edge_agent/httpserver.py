"""A very small HTTP/1.1 server on asyncio for the agent's local status endpoint.

The edge installs without web frameworks, and the status endpoint needs little: a handful of
JSON routes, Prometheus text, small request bodies, one request per connection. Every read is
bounded in size and time; anything unexpected is answered with a 4xx, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 256 * 1024
READ_TIMEOUT_S = 5.0

log = structlog.get_logger("edge_agent.http")

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
            422: "Unprocessable Entity", 500: "Internal Server Error", 503: "Service Unavailable"}  # fmt: skip


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, default=str).encode())

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json({"error": _REASONS.get(status, "error"), "detail": message}, status)


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    """Routes ``(method, path)`` to handlers. ``start()`` binds; ``port`` is the bound port."""

    def __init__(
        self, routes: dict[tuple[str, str], Handler], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.routes = routes
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            response = await self._respond(reader)
            reason = _REASONS.get(response.status, "")
            head = [f"HTTP/1.1 {response.status} {reason}", f"Content-Type: {response.content_type}",
                    f"Content-Length: {len(response.body)}", "Connection: close"]  # fmt: skip
            head += [f"{k}: {v}" for k, v in response.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + response.body)
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(READ_TIMEOUT_S):
                    await writer.drain()
        finally:
            writer.close()
            self._conns.discard(task)

    async def _respond(self, reader: asyncio.StreamReader) -> Response:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
                request = _parse_head(head)
                length = int(request.headers.get("content-length", "0") or 0)
                if length > MAX_BODY_BYTES:
                    return Response.error(413, f"body over {MAX_BODY_BYTES} bytes")
                body = await reader.readexactly(length) if length else b""
        except (
            asyncio.LimitOverrunError,
            asyncio.IncompleteReadError,
            TimeoutError,
            ConnectionError,
        ):
            return Response.error(400, "incomplete or oversized request")
        except ValueError as exc:
            return Response.error(400, str(exc))
        request = Request(request.method, request.path, request.query, request.headers, body)
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self.routes):
                return Response.error(405, f"{request.method} not allowed on {request.path}")
            return Response.error(404, f"no route {request.path}")
        try:
            return await handler(request)
        except Exception:
            log.exception("status handler failed", path=request.path)
            return Response.error(500, "internal error (see the agent's log)")


def _parse_head(head: bytes) -> Request:
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("headers too large")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        raise ValueError(f"bad request line {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return Request(method.upper(), parts.path, parse_qs(parts.query), headers, b"")
