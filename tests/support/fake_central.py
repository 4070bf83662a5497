"""A small central that speaks the ingest contract, served by uvicorn on a real loopback socket.

It stores records idempotently by (agent_id, seq), acks every seq it holds from a batch, and can
be told to misbehave the ways a real central does: refuse the token (401), find a batch too large
(413), refuse certain records (422), answer 503, or be stopped outright and started again on the
same port. Commands queued with ``queue_command`` ride in every ack until a CommandResult for them
comes back, as a real central would resend them.

Tests use it until the real central's app can be served in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn

from protocols.sync import Batch, BatchAck, Command, decode_batch, seq_ranges

from .ports import free_port

Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
RecordFilter = Callable[[str, Any], bool]  # (kind, wire model) -> refuse?


@dataclass
class Received:
    """One request central answered, for the test's assertions."""

    status: int
    batch: Batch | None
    authorization: str | None
    content_encoding: str | None


@dataclass
class FakeCentralState:
    token: str
    stored: dict[tuple[str, int], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    duplicates: int = 0
    requests: list[Received] = field(default_factory=list)
    commands: dict[str, Command] = field(default_factory=dict)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    status_override: int | None = None  # answer every request with this status (503, 401 ...)
    max_records: int | None = None  # more records than this -> 413
    refuse: RecordFilter | None = None  # any record it matches -> 422 for the whole batch
    refuse_empty: bool = False  # 422 even for a batch with no records (agent-level refusal)


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test process owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class FakeCentral:
    def __init__(self, *, token: str, port: int | None = None) -> None:
        self.state = FakeCentralState(token=token)
        self.port = port or free_port()
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            interface="asgi3",
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(), name=f"fake-central:{self.port}")
        async with asyncio.timeout(10):
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            async with asyncio.timeout(10):
                await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> FakeCentral:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ what tests look at

    def queue_command(self, command: Command) -> None:
        self.state.commands[command.id] = command

    def seqs(self, agent_id: str = "agent-1") -> list[int]:
        return sorted(seq for (agent, seq) in self.state.stored if agent == agent_id)

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [body for (_k, body) in self.state.stored.values() if _k == kind]

    def batches(self) -> list[Batch]:
        return [r.batch for r in self.state.requests if r.batch is not None and r.status == 200]

    # ------------------------------------------------------------------ the ASGI app

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload, batch = self._handle(scope, headers, body)
        self.state.requests.append(
            Received(status, batch, headers.get("authorization"), headers.get("content-encoding"))
        )
        raw = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    def _handle(
        self, scope: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], Batch | None]:
        st = self.state
        if scope["method"] != "POST" or scope["path"] != "/api/v1/ingest":
            return 404, _error("not_found", scope["path"]), None
        if st.status_override is not None:
            return st.status_override, _error("override", f"status {st.status_override}"), None
        if headers.get("authorization") != f"Bearer {st.token}":
            return 401, _error("unauthorized", "bad or missing bearer token"), None
        try:
            batch = decode_batch(body)
        except ValueError as exc:
            return 422, _error("invalid_batch", str(exc)[:500]), None
        if st.max_records is not None and batch.record_count() > st.max_records:
            return 413, _error("too_large", f"{batch.record_count()} > {st.max_records}"), batch
        if st.refuse_empty:
            return 422, _error("refused", "agent refused"), batch
        if st.refuse is not None:
            for kind, items in _kinds(batch):
                for item in items:
                    if st.refuse(kind, item):
                        where = [kind, item.seq]
                        return 422, _error("refused", f"record seq {item.seq}", where), batch
        seqs: list[int] = []
        for kind, items in _kinds(batch):
            for item in items:
                key = (batch.agent_id, item.seq)
                if key in st.stored:
                    st.duplicates += 1
                else:
                    st.stored[key] = (kind, item.model_dump(mode="json"))
                seqs.append(item.seq)
                if kind == "command_results":
                    st.results.setdefault(item.command_id, []).append(item.model_dump(mode="json"))
        answered = set(st.results)
        commands = [c for cid, c in st.commands.items() if cid not in answered]
        ack = BatchAck(
            batch_id=batch.batch_id,
            accepted=seq_ranges(seqs),
            server_time=datetime.now(UTC),
            commands=commands,
        )
        return 200, ack.model_dump(mode="json"), batch


def _kinds(batch: Batch) -> list[tuple[str, list[Any]]]:
    return [
        ("readings", list(batch.readings)),
        ("aggregates", list(batch.aggregates)),
        ("events", list(batch.events)),
        ("gaps", list(batch.gaps)),
        ("command_results", list(batch.command_results)),
    ]


def _error(error: str, detail: str, location: list[Any] | None = None) -> dict[str, Any]:
    return {"error": error, "detail": detail, "location": location or []}
