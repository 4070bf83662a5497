"""The HTTP API: dependencies, error answers and one router per topic."""

from .deps import API_PREFIX, AdminUser, CurrentAgent, CurrentUser, SessionDep, WriteSessionDep
from .main import api_router
from .state import CentralState

__all__ = [
    "API_PREFIX",
    "AdminUser",
    "CentralState",
    "CurrentAgent",
    "CurrentUser",
    "SessionDep",
    "WriteSessionDep",
    "api_router",
]
