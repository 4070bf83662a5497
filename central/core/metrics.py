"""Prometheus metrics of one central app: ingest counters, refusals by reason, request latency.

Each app owns its registry (tests build many apps in one process); ``GET /metrics`` renders it.
Labels are bounded: route templates, never raw paths; refusal reasons are our error codes.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.batches = Counter(
            "hse_central_ingest_batches", "Batches stored, by lane", ["lane"], registry=r
        )
        self.records = Counter(
            "hse_central_ingest_records",
            "Records newly stored, by kind",
            ["kind"],
            registry=r,
        )
        self.duplicates = Counter(
            "hse_central_ingest_duplicates",
            "Records received again that were stored before (retries)",
            registry=r,
        )
        self.refusals = Counter(
            "hse_central_ingest_refusals",
            "Batches refused, by reason (the ErrorDetail error code)",
            ["reason"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "hse_central_ingest_seconds",
            "Time to decode, check and store one batch",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.auth_failures = Counter(
            "hse_central_auth_failures",
            "Refused credentials, by kind (login, agent_token, user_token)",
            ["kind"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "hse_central_http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.in_flight = Gauge(
            "hse_central_http_requests_in_flight", "Requests being served", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Pure ASGI middleware timing each HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_seconds.labels(
                scope.get("method", ""), template, str(status)
            ).observe(time.perf_counter() - start)
