"""The central server app: ``create_app(settings)`` builds one, with its own engine and metrics.

The schema is created (idempotently) when the app starts; ``hse-central init`` does the same
without serving. Everything the app holds lives on ``app.state.central``, so several apps can run
in one process (tests) without sharing a connection pool or a metric.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from device_profiles import Catalog

from .api import API_PREFIX, CentralState, api_router
from .api import errors as api_errors
from .api.routes import system
from .api.trail import AuditTrail
from .core.clock import Clock, SystemClock
from .core.config import Settings
from .core.db import init_db, make_engine
from .core.metrics import LatencyMiddleware, Metrics
from .ingest import IngestService
from .web import install_dashboard

log = structlog.get_logger("central")


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """An app on its own engine; ``clock`` replaces the wall clock where time is judged."""
    engine = make_engine(settings)
    metrics = Metrics()
    clock = clock or SystemClock()
    state = CentralState(
        settings=settings,
        engine=engine,
        metrics=metrics,
        ingest=IngestService(engine, settings, metrics),
        clock=clock,
        catalog=Catalog(settings.catalog_dirs),
        trail=AuditTrail(engine, settings, clock),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(init_db, engine)
        log.info("central ready", database=settings.database_url_masked)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="HSE central",
        summary="The fleet's integrated HSE record: ingest from edge agents, queries.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.central = state
    api_errors.install(app)
    app.include_router(api_router)
    app.include_router(system.router)
    install_dashboard(app)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    return app


def app_from_environment() -> FastAPI:
    """App factory for ``uvicorn --factory`` and multi-worker serving: settings from env/file."""
    from .core.config import load_settings

    return create_app(load_settings())
