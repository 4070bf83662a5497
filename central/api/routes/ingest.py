"""``POST /api/v1/ingest``: an agent's batch in, a :class:`protocols.sync.BatchAck` out."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Request, Response

from central.api.deps import API_PREFIX, CurrentAgent, StateDep
from central.errors import TooLarge
from protocols.sync import BatchAck, ErrorDetail

router = APIRouter(prefix=API_PREFIX, tags=["ingest"])

_REFUSALS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorDetail, "description": text}
    for status, text in {
        400: "the body is not valid gzip",
        401: "no agent token, or one nobody issued",
        403: "the token's agent or plant is not the batch's, or a user token",
        413: "body, inflated body or record count over the limit",
        422: "malformed JSON, a schema violation or an implausible timestamp, with its location",
        503: "the database is busy or down: nothing was stored, send again",
    }.items()
}


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(
            f"body is {declared} bytes; the limit is {limit} (max_body_bytes)",
            error="body_too_large",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"body exceeds the limit of {limit} bytes (max_body_bytes)",
                error="body_too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/ingest", response_model=BatchAck, responses=_REFUSALS)
async def ingest(request: Request, agent: CurrentAgent, state: StateDep) -> Response:
    """Store a batch (``protocols.sync.Batch`` as JSON, usually ``Content-Encoding: gzip``).

    Idempotent on (agent, seq): a batch sent again is acknowledged with the same ranges and
    counted in ``duplicates``. The ack carries the agent's pending commands.
    """
    try:
        body = await _read_bounded(request, state.settings.max_body_bytes)
    except TooLarge as exc:
        state.ingest.refused(exc.error, agent)
        raise
    ack = await anyio.to_thread.run_sync(
        partial(
            state.ingest.ingest,
            body,
            content_encoding=request.headers.get("content-encoding"),
            agent=agent,
        ),
        limiter=state.ingest.limiter,
    )
    return Response(ack.model_dump_json(), media_type="application/json")
