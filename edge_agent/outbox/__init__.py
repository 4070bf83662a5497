"""The edge agent's outbox: SQLite store-and-forward with one monotonic seq per agent.

See :mod:`edge_agent.outbox.store` for what it promises, :mod:`.quota` for how it keeps its disk
quota, :mod:`.seqmark` for why seqs survive a corrupt file, and :mod:`.errors` for the exception
tree.
"""

from .errors import (
    InvalidRecordError,
    OutboxClosedError,
    OutboxError,
    OutboxLockedError,
    OutboxSchemaError,
    OutboxStorageError,
)
from .integrity import KIND_RESET
from .pending import PendingBatch
from .quarantine import KIND_QUARANTINE
from .quota import REASON_AGGREGATED, REASON_DROPPED
from .stats import OutboxStats
from .store import Outbox

__all__ = [
    "KIND_QUARANTINE",
    "KIND_RESET",
    "REASON_AGGREGATED",
    "REASON_DROPPED",
    "InvalidRecordError",
    "Outbox",
    "OutboxClosedError",
    "OutboxError",
    "OutboxLockedError",
    "OutboxSchemaError",
    "OutboxStats",
    "OutboxStorageError",
    "PendingBatch",
]
