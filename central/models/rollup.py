"""Hourly roll-up of readings per point, kept on ingest.

One row per (point, UTC hour) with the number of readings, of good ones, of ones with a value,
their sum, minimum and maximum. KPIs (completeness, availability), the compliance ledger (daily
means and maxima) and long trends read this instead of scanning raw readings: 30 days of a point
are 720 rows whatever its poll rate. It holds exactly the raw ``reading`` rows (each counted
once, as ingest is idempotent), not the agent's thinned aggregates.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from ._types import Big, Micros
from .data import WITHOUT_ROWID

HOUR_US = 3_600_000_000


class ReadingHourly(SQLModel, table=True):
    __tablename__ = "reading_hourly"
    __table_args__ = (WITHOUT_ROWID,)

    point_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hour_ts: int = Field(primary_key=True, sa_type=Micros)
    samples: int = Field(sa_type=Big)
    """Every reading of the hour, bad ones included."""
    good: int = Field(sa_type=Big)
    valued: int = Field(sa_type=Big)
    """Readings with a value (bad reads carry none)."""
    sum_value: float = 0.0
    min_value: float | None = None
    max_value: float | None = None
