"""Storage of what agents send: the dialect-specific bulk writers, points, other records."""

from .bulk import BulkWriter, PostgresBulkWriter, SqliteBulkWriter, writer_for
from .points import PointRegistry, insert_for
from .records import deliver_commands, insert_records, upsert_health

__all__ = [
    "BulkWriter",
    "PointRegistry",
    "PostgresBulkWriter",
    "SqliteBulkWriter",
    "deliver_commands",
    "insert_for",
    "insert_records",
    "upsert_health",
    "writer_for",
]
