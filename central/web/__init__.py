"""The web dashboard: HTML shells, static files and the security headers they are served with.

``install_dashboard(app)`` adds ``GET /`` (the dashboard), ``GET /login`` and ``/static/...`` to a
central app. The pages hold no data: JavaScript modules fetch everything from ``/api/v1`` with the
user's bearer token, kept in ``sessionStorage``. See docs/dashboard.md.
"""

from .pages import STATIC_DIR, install_dashboard
from .security import CONTENT_SECURITY_POLICY, SecurityHeaders

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_DIR", "SecurityHeaders", "install_dashboard"]
