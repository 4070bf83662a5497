"""edge_agent"""

from .outbox import Outbox, OutboxStats, PendingBatch
from .records import EventRecord, ReadingRecord
from .sync import SyncClient, SyncStats

__all__ = [
    "EventRecord",
    "Outbox",
    "OutboxStats",
    "PendingBatch",
    "ReadingRecord",
    "SyncClient",
    "SyncStats",
]
