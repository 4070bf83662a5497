"""The central server: ingest from edge agents, the fleet's registry and record, queries.

Build an app with :func:`create_app` from :func:`load_settings` (and, in tests, a :class:`Clock`);
run one with ``hse-central``. Other parts of central queue commands for an agent with
:func:`enqueue_command`. Who may do what is :data:`central.core.permissions.MATRIX`.
"""

from .core.clock import Clock, SystemClock
from .core.config import Settings, load_settings
from .crud import AgentContext, enqueue_command
from .errors import CentralError, RequestRefused, SettingsError, StoreError
from .main import create_app

__all__ = [
    "AgentContext",
    "CentralError",
    "Clock",
    "RequestRefused",
    "Settings",
    "SettingsError",
    "StoreError",
    "SystemClock",
    "create_app",
    "enqueue_command",
    "load_settings",
]
