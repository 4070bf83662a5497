"""The dashboard's routes: two HTML shells and the static files they load.

``/`` is the single-page dashboard (views chosen by the URL fragment: ``#/fleet``,
``#/plant/<plant>`` ...), ``/login`` the login form. Both are plain files: no server-side
templating, nothing about the user in them, so they can be cached and served by any proxy.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from central.errors import CentralError

from .security import SecurityHeaders

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""``central/static``: HTML, CSS, JS modules and vendored libraries (package data)."""

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/login")
def login() -> FileResponse:
    return FileResponse(STATIC_DIR / "login.html")


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: pages, ``/static`` and their security headers."""
    if not (STATIC_DIR / "index.html").is_file():
        # A wheel built without package data would serve 404s; say what is missing instead.
        raise CentralError(f"the dashboard's files are missing from {STATIC_DIR}")
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
