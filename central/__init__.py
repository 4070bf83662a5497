"""The central server: ingest from edge agents, the fleet's registry and record, queries.

Build an app with :func:`create_app` from :func:`load_settings`; run one with ``hse-central``.
Other parts of central queue commands for an agent with :func:`enqueue_command`.
"""

from .core.config import Settings, load_settings
from .crud import AgentContext, enqueue_command
from .errors import CentralError, RequestRefused, SettingsError, StoreError
from .main import create_app

__all__ = [
    "AgentContext",
    "CentralError",
    "RequestRefused",
    "Settings",
    "SettingsError",
    "StoreError",
    "create_app",
    "enqueue_command",
    "load_settings",
]
