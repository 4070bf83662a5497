"""The hourly roll-up of a batch's fresh readings, grouped in numpy, upserted per dialect.

Grouping runs on arrays (no Python frame per reading): ``np.unique`` over a combined
(point, hour) key, then ``bincount`` for counts and sums and ``minimum.at`` / ``maximum.at`` for
the extremes. The upsert adds counts and sums to an existing row and keeps the extremes, so the
roll-up equals a GROUP BY over the raw rows however the readings were batched.
"""

from __future__ import annotations

import numpy as np

from central.ingest.prepare import ReadingColumns
from central.models import HOUR_US

HourRows = list[tuple[int, int, int, int, int, float, float | None, float | None]]
"""(point_id, hour_ts, samples, good, valued, sum_value, min_value, max_value)."""

_HOUR_BITS = 24  # hours since 1970 fit 2**24 until the year 3884
GOOD = 0  # central.models.QUALITY_CODE["good"]


def hourly_rows(cols: ReadingColumns, point_ids: list[int]) -> HourRows:
    """One row per (point, UTC hour) of the readings, sorted by point then hour."""
    n = len(point_ids)
    if n == 0:
        return []
    pid = np.fromiter(point_ids, np.int64, n)
    hour = np.fromiter(cols.source_us, np.int64, n) // HOUR_US
    value = np.array(cols.value, dtype=np.float64)  # None (a bad read) becomes NaN
    good = np.fromiter(cols.quality, np.int64, n) == GOOD
    keys, inverse = np.unique((pid << _HOUR_BITS) | hour, return_inverse=True)
    has = ~np.isnan(value)
    samples = np.bincount(inverse, minlength=len(keys))
    goods = np.bincount(inverse, weights=good, minlength=len(keys))
    valued = np.bincount(inverse, weights=has, minlength=len(keys))
    sums = np.bincount(inverse, weights=np.where(has, value, 0.0), minlength=len(keys))
    lows = np.full(len(keys), np.inf)
    highs = np.full(len(keys), -np.inf)
    np.minimum.at(lows, inverse[has], value[has])
    np.maximum.at(highs, inverse[has], value[has])
    point_col = (keys >> _HOUR_BITS).tolist()
    hour_col = ((keys & ((1 << _HOUR_BITS) - 1)) * HOUR_US).tolist()
    valued_col = valued.astype(np.int64).tolist()
    low_col = lows.tolist()
    high_col = highs.tolist()
    return [
        (p, h, s, g, v, t, lo if v else None, hi if v else None)
        for p, h, s, g, v, t, lo, hi in zip(
            point_col,
            hour_col,
            samples.tolist(),
            goods.astype(np.int64).tolist(),
            valued_col,
            sums.tolist(),
            low_col,
            high_col,
            strict=True,
        )
    ]


# Counts and sums add up; the extremes keep whichever is further out (NULL: no value yet).
SQLITE_UPSERT = """
INSERT INTO reading_hourly (point_id, hour_ts, samples, good, valued, sum_value, min_value,
                            max_value)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (point_id, hour_ts) DO UPDATE SET
  samples = reading_hourly.samples + excluded.samples,
  good = reading_hourly.good + excluded.good,
  valued = reading_hourly.valued + excluded.valued,
  sum_value = reading_hourly.sum_value + excluded.sum_value,
  min_value = CASE WHEN excluded.min_value IS NULL THEN reading_hourly.min_value
                   WHEN reading_hourly.min_value IS NULL OR excluded.min_value < reading_hourly.min_value
                   THEN excluded.min_value ELSE reading_hourly.min_value END,
  max_value = CASE WHEN excluded.max_value IS NULL THEN reading_hourly.max_value
                   WHEN reading_hourly.max_value IS NULL OR excluded.max_value > reading_hourly.max_value
                   THEN excluded.max_value ELSE reading_hourly.max_value END
"""

POSTGRES_UPSERT = """
INSERT INTO reading_hourly (point_id, hour_ts, samples, good, valued, sum_value, min_value,
                            max_value)
SELECT * FROM unnest(%b::int4[], %b::int8[], %b::int8[], %b::int8[], %b::int8[],
                     %b::float8[], %b::float8[], %b::float8[])
ON CONFLICT (point_id, hour_ts) DO UPDATE SET
  samples = reading_hourly.samples + excluded.samples,
  good = reading_hourly.good + excluded.good,
  valued = reading_hourly.valued + excluded.valued,
  sum_value = reading_hourly.sum_value + excluded.sum_value,
  min_value = CASE WHEN excluded.min_value IS NULL THEN reading_hourly.min_value
                   WHEN reading_hourly.min_value IS NULL OR excluded.min_value < reading_hourly.min_value
                   THEN excluded.min_value ELSE reading_hourly.min_value END,
  max_value = CASE WHEN excluded.max_value IS NULL THEN reading_hourly.max_value
                   WHEN reading_hourly.max_value IS NULL OR excluded.max_value > reading_hourly.max_value
                   THEN excluded.max_value ELSE reading_hourly.max_value END
"""

__all__ = ["POSTGRES_UPSERT", "SQLITE_UPSERT", "HourRows", "hourly_rows"]
