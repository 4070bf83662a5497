"""Security headers of the dashboard's responses: a strict Content-Security-Policy and friends.

The policy allows scripts, styles, images and fetches from this origin only, and no inline script
or style markup: the pages load ES modules from ``/static`` and build the DOM from API data with
``textContent``, so injected markup cannot run. The API's own pages (``/api/v1/docs``) are left
alone: Swagger UI needs inline script.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for the empty favicon some browsers ask for, blob: for charts exported as images.
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

DASHBOARD_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A URL never carries a token, but plant names in the fragment need not leave the site either.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def is_dashboard_path(path: str) -> bool:
    """The dashboard's pages and files: everything but the API, health and metrics."""
    return path in {"/", "/login"} or path.startswith("/static/")


class SecurityHeaders:
    """Pure ASGI middleware adding :data:`DASHBOARD_HEADERS` to the dashboard's responses."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: dict[str, str] | None = None,
        applies_to: Callable[[str], bool] = is_dashboard_path,
    ) -> None:
        self.app = app
        self.headers = dict(DASHBOARD_HEADERS if headers is None else headers)
        self.applies_to = applies_to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies_to(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                # Shells and modules change with the server version: cache, but revalidate.
                headers.setdefault("Cache-Control", "no-cache")
            await send(message)

        await self.app(scope, receive, send_with_headers)
