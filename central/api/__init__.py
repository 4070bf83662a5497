"""The HTTP API: dependencies (the one access check, :func:`permit`), error answers, the audit
trail and one router per topic."""

from .deps import (
    API_PREFIX,
    Access,
    CurrentAgent,
    CurrentUser,
    SessionDep,
    WriteSessionDep,
    permit,
)
from .main import api_router
from .state import CentralState
from .trail import AuditTrail

__all__ = [
    "API_PREFIX",
    "Access",
    "AuditTrail",
    "CentralState",
    "CurrentAgent",
    "CurrentUser",
    "SessionDep",
    "WriteSessionDep",
    "api_router",
    "permit",
]
