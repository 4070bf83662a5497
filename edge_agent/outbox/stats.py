"""The outbox's counters, as one frozen snapshot (they become metrics and the heartbeat)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """A snapshot of the outbox.

    ``backlog_records`` counts records stored and not yet acknowledged, by kind (``readings``,
    ``aggregates``, ``events``, ``gaps``, ``command_results``); ``buffered_readings`` those
    accepted but not yet committed. ``degraded_readings`` / ``dropped_readings`` count raw
    readings thinned into aggregates / lost to the disk quota (each also reported by a Gap).
    ``bytes_used`` is live pages plus the WAL; ``over_quota`` is true when events alone (never
    dropped) keep the store above its quota.
    """

    backlog_records: Mapping[str, int]
    buffered_readings: int
    in_flight: int
    oldest_unsent_ts: float | None
    bytes_used: int
    quota_bytes: int
    over_quota: bool
    gaps_total: int
    degraded_readings: int
    dropped_readings: int
    quarantined: int
    last_seq: int
    commits: int
    last_commit_ts: float | None
    storage_errors: int
    reset_from: tuple[str, ...] = field(default=())

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog_records.values())
