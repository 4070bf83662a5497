"""The API router: every topic's router, each under ``/api/v1`` by its own prefix.

The prefix is on each router, not on ``include_router``, so a route's ``path`` is its full
template (``/api/v1/plants/{plant}/latest``): the latency metric labels by it.
"""

from __future__ import annotations

from fastapi import APIRouter

from .routes import agents, auth, events, ingest, org, plants, points, users

api_router = APIRouter()
for module in (ingest, auth, users, agents, plants, points, events, org):
    api_router.include_router(module.router)
