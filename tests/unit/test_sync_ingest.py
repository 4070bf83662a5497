"""How the sync client reads central's answers (HTTP status -> outcome), through httpx's own
MockTransport: every status class, without a server to script for each."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import httpx
import pytest

from edge_agent.sync import CentralAuthError, CentralRefusedError, CentralUnavailableError
from edge_agent.sync.ingest import IngestChannel, Verdict
from protocols.sync import Batch, BatchAck, Lane


def batch() -> Batch:
    return Batch(
        agent_id="agent-1",
        plant_id="plant-1",
        batch_id="b1",
        lane=Lane.EVENTS,
        sent_at=datetime.now(UTC),
    )


def channel(handler: httpx.MockTransport) -> IngestChannel:
    return IngestChannel(
        central_url="http://central.invalid/",
        token="tok",
        transport=handler,
        timeout_s=1.0,
        connect_timeout_s=1.0,
        clock=lambda: 1000.0,
        user_agent="test",
    )


def answering(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers=headers)

    return httpx.MockTransport(handle), seen


async def test_a_batch_is_posted_gzipped_with_the_bearer_token() -> None:
    ack = BatchAck(batch_id="b1", accepted=[(1, 3)], server_time=datetime.now(UTC))
    transport, seen = answering(200, ack.model_dump_json().encode())
    ingest = channel(transport)
    answer = await ingest.post(batch())
    await ingest.aclose()
    assert answer.verdict is Verdict.ACCEPTED
    assert answer.ack is not None
    assert answer.ack.accepted == [(1, 3)]
    (request,) = seen
    assert str(request.url) == "http://central.invalid/api/v1/ingest"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(gzip.decompress(request.content))["batch_id"] == "b1"


@pytest.mark.parametrize(("status", "verdict"), [(413, Verdict.TOO_LARGE), (422, Verdict.REFUSED)])
async def test_record_level_answers_are_verdicts(status: int, verdict: Verdict) -> None:
    body = json.dumps({"error": "bad", "detail": "value", "location": ["readings", 3]}).encode()
    transport, _ = answering(status, body)
    ingest = channel(transport)
    answer = await ingest.post(batch())
    await ingest.aclose()
    assert answer.verdict is verdict
    assert answer.detail == "bad: value (at readings/3)"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, CentralAuthError),
        (403, CentralAuthError),
        (400, CentralRefusedError),
        (404, CentralRefusedError),
        (500, CentralUnavailableError),
        (503, CentralUnavailableError),
        (429, CentralUnavailableError),
    ],
)
async def test_other_answers_raise_what_the_client_backs_off_on(
    status: int, error: type[Exception]
) -> None:
    transport, _ = answering(status, b"nope", {"Retry-After": "7"})
    ingest = channel(transport)
    with pytest.raises(error, match=str(status)) as caught:
        await ingest.post(batch())
    await ingest.aclose()
    if status == 429:
        assert isinstance(caught.value, CentralUnavailableError)
        assert caught.value.retry_after_s == 7.0


async def test_an_ack_that_does_not_parse_is_not_trusted() -> None:
    transport, _ = answering(200, b'{"accepted": "everything"}')
    ingest = channel(transport)
    with pytest.raises(CentralUnavailableError, match="does not parse"):
        await ingest.post(batch())
    await ingest.aclose()


async def test_a_connection_failure_is_retriable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ingest = channel(httpx.MockTransport(refuse))
    with pytest.raises(CentralUnavailableError, match="ConnectError") as caught:
        await ingest.post(batch())
    await ingest.aclose()
    assert "tok" not in str(caught.value)
