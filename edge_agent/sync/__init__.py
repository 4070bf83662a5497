"""The edge agent's sync client: outbox -> central ingest, commands back.

See :mod:`edge_agent.sync.client` for what it promises and :mod:`.errors` for the exception tree.
"""

from .client import SyncClient, SyncStats
from .errors import CentralAuthError, CentralRefusedError, CentralUnavailableError, SyncError

__all__ = [
    "CentralAuthError",
    "CentralRefusedError",
    "CentralUnavailableError",
    "SyncClient",
    "SyncError",
    "SyncStats",
]
