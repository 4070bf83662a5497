"""``/healthz`` (is the database reachable) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from central.api.deps import StateDep
from central.core.db import check_db
from central.errors import StoreError

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(state: StateDep) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        await run_in_threadpool(check_db, state.engine)
    except StoreError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics")
def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
