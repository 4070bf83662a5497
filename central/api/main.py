"""The API router: every topic's router, each under ``/api/v1`` by its own prefix.

The prefix is on each router, not on ``include_router``, so a route's ``path`` is its full
template (``/api/v1/plants/{plant}/latest``): the latency metric labels by it.
"""

from __future__ import annotations

from fastapi import APIRouter

from .routes import (
    agents,
    alarms,
    audit,
    auth,
    commands,
    compliance,
    events,
    extensions,
    fleet,
    ingest,
    org,
    personnel,
    plants,
    points,
    tokens,
    users,
)

api_router = APIRouter()
for module in (
    ingest,
    auth,
    users,
    tokens,
    agents,
    plants,
    extensions,
    points,
    events,
    org,
    alarms,
    commands,
    fleet,
    compliance,
    personnel,
    audit,
):
    api_router.include_router(module.router)
