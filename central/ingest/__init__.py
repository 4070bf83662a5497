"""Ingest of agent batches: bounded decode, checks against the agent and the clock, storage."""

from .body import format_location, inflate, parse_batch
from .prepare import Limits, PreparedBatch, ReadingColumns, prepare_batch
from .service import IngestService, IngestStatistics, StoreOutcome

__all__ = [
    "IngestService",
    "IngestStatistics",
    "Limits",
    "PreparedBatch",
    "ReadingColumns",
    "StoreOutcome",
    "format_location",
    "inflate",
    "parse_batch",
    "prepare_batch",
]
