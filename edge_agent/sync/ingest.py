"""One POST of a batch to central's ingest endpoint, and what the answer means.

The only module that speaks HTTP: it encodes the batch (gzip JSON), sends it with the agent's
bearer token (never logged), bounds the call with separate connect and read timeouts plus an
overall deadline, and turns the answer into an :class:`Answer` or a :mod:`.errors` exception.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import ValidationError

from protocols.sync import Batch, BatchAck, ErrorDetail, encode_batch

from .errors import CentralAuthError, CentralRefusedError, CentralUnavailableError

INGEST_PATH: Final = "/api/v1/ingest"


class Verdict(enum.Enum):
    ACCEPTED = "accepted"  # 200 with a BatchAck
    TOO_LARGE = "too_large"  # 413
    REFUSED = "refused"  # 422: something in the batch


@dataclass(frozen=True, slots=True)
class Answer:
    """Central's answer to one batch. ``midpoint_ts`` is the local clock halfway through the call."""

    verdict: Verdict
    ack: BatchAck | None = None
    detail: str = ""
    midpoint_ts: float = 0.0


class IngestChannel:
    """A keep-alive HTTP client for ``{central_url}/api/v1/ingest``."""

    def __init__(
        self,
        *,
        central_url: str,
        token: str,
        transport: httpx.AsyncBaseTransport | None,
        timeout_s: float,
        connect_timeout_s: float,
        clock: Callable[[], float],
        user_agent: str,
    ) -> None:
        self.url = central_url.rstrip("/") + INGEST_PATH
        self._deadline_s = connect_timeout_s + 2 * timeout_s  # connect, write, read
        self._clock = clock
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
            follow_redirects=False,
            trust_env=False,  # the agent's config names central; no proxy from the environment
        )

    async def post(self, batch: Batch) -> Answer:
        body = encode_batch(batch)
        started = self._clock()
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await self._client.post(self.url, content=body)
                content = response.content
        except TimeoutError as exc:
            raise CentralUnavailableError(
                f"POST {self.url}: no answer within {self._deadline_s} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise CentralUnavailableError(f"POST {self.url}: {type(exc).__name__}: {exc}") from exc
        midpoint = (started + self._clock()) / 2
        status = response.status_code
        if status == 200:
            try:
                ack = BatchAck.model_validate_json(content)
            except ValidationError as exc:
                raise CentralUnavailableError(
                    f"POST {self.url}: 200 with an ack that does not parse: {exc.errors()[:1]}",
                    status=status,
                ) from exc
            return Answer(Verdict.ACCEPTED, ack=ack, midpoint_ts=midpoint)
        detail = _detail(content)
        if status == 413:
            return Answer(Verdict.TOO_LARGE, detail=detail, midpoint_ts=midpoint)
        if status == 422:
            return Answer(Verdict.REFUSED, detail=detail, midpoint_ts=midpoint)
        if status in (401, 403):
            raise CentralAuthError(f"POST {self.url}: HTTP {status}: {detail}", status=status)
        if status == 429 or status >= 500:
            raise CentralUnavailableError(
                f"POST {self.url}: HTTP {status}: {detail}",
                status=status,
                retry_after_s=_retry_after(response.headers.get("Retry-After")),
            )
        raise CentralRefusedError(f"POST {self.url}: HTTP {status}: {detail}", status=status)

    async def aclose(self) -> None:
        await self._client.aclose()


def _detail(content: bytes) -> str:
    """Central's ErrorDetail as one line, or the start of whatever it sent."""
    try:
        error = ErrorDetail.model_validate_json(content)
    except ValidationError:
        return content[:300].decode("utf-8", errors="replace")
    where = "/".join(str(p) for p in error.location)
    return f"{error.error}: {error.detail}" + (f" (at {where})" if where else "")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: ignore, the backoff still applies
    return seconds if seconds >= 0 else None
