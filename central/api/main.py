"""The API router: every topic's router under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import agents, auth, events, ingest, org, plants, points, users

api_router = APIRouter()
for module in (ingest, auth, users, agents, plants, points, events, org):
    api_router.include_router(module.router)
