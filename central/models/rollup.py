"""Roll-ups of readings per point, kept on ingest: per UTC hour and per UTC day.

One row per (point, hour) or (point, day) with the number of readings, of good ones, of ones
with a value, their sum, minimum and maximum. The compliance ledger (local days: built from
hours) and the fleet KPIs (completeness, availability: whole days from the daily table, the
period's ragged ends from the hourly one) read these instead of raw readings, so their cost
does not grow with the poll rate: 30 days of 1,000 points are 30,000 daily rows. They hold
exactly the raw ``reading`` rows and the readings the agents thinned into per-minute
``reading_aggregate`` rows (``count`` samples, ``mean x count`` added to the sum, the extremes
kept), each counted once, as ingest is idempotent.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from ._types import Big, Micros
from .data import WITHOUT_ROWID

# Every batch updates the rows of its hour and day in place: room on each page lets PostgreSQL
# make those heap-only updates (no index entry per update).
ROLLUP_TABLE = {**WITHOUT_ROWID, "postgresql_with": {"fillfactor": "70"}}

HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000


class ReadingHourly(SQLModel, table=True):
    __tablename__ = "reading_hourly"
    __table_args__ = (ROLLUP_TABLE,)

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


class ReadingDaily(SQLModel, table=True):
    __tablename__ = "reading_daily"
    __table_args__ = (ROLLUP_TABLE,)

    point_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    day_ts: int = Field(primary_key=True, sa_type=Micros)
    """00:00 UTC of the day."""
    samples: int = Field(sa_type=Big)
    good: int = Field(sa_type=Big)
    valued: int = Field(sa_type=Big)
    sum_value: float = 0.0
    min_value: float | None = None
    max_value: float | None = None
