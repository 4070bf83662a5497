"""The hourly and daily roll-ups of a batch's fresh readings, grouped in numpy, upserted per
dialect.

Grouping runs on arrays (no Python frame per reading): ``np.unique`` over a combined
(point, hour) key, then ``bincount`` for counts and sums and ``minimum.at`` / ``maximum.at`` for
the extremes. The upsert adds counts and sums to an existing row and keeps the extremes, so the
roll-up equals a GROUP BY over the raw rows however the readings were batched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from central.ingest.prepare import ReadingColumns
from central.models import DAY_US, HOUR_US, QUALITY_CODE

HourRows = list[tuple[int, int, int, int, int, float, float | None, float | None]]
"""(point_id, hour_ts, samples, good, valued, sum_value, min_value, max_value)."""

_HOUR_BITS = 24  # hours since 1970 fit 2**24 until the year 3884
GOOD = QUALITY_CODE["good"]


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


def aggregate_hourly_rows(
    aggregates: list[dict[str, Any]], fresh: set[int] | None, point_ids: Mapping[str, int]
) -> HourRows:
    """The (point, UTC hour) rows of the agent's thinned aggregates (fresh ones only), sorted.

    An aggregate of ``count`` readings counts as that many samples (good ones when its quality
    is good), with ``mean x count`` added to the sum and its extremes kept: the roll-up then
    stands for every reading the device produced, thinned or not. An aggregate spans one
    minute, so it falls in the hour of its start.
    """
    groups: dict[tuple[int, int], list[Any]] = {}
    for a in aggregates:
        if fresh is not None and a["seq"] not in fresh:
            continue
        key = (point_ids[a["point"]], a["from_ts"] - a["from_ts"] % HOUR_US)
        n = a["count"]
        valued = n if a["mean"] is not None else 0
        row = groups.setdefault(key, [0, 0, 0, 0.0, None, None])
        row[0] += n
        row[1] += n if a["quality"] == GOOD else 0
        row[2] += valued
        row[3] += a["mean"] * n if valued else 0.0
        for i, v, pick in ((4, a["min"], min), (5, a["max"], max)):
            if v is not None:
                row[i] = v if row[i] is None else pick(row[i], v)
    return [(p, h, *row) for (p, h), row in sorted(groups.items())]


def daily_rows(hours: HourRows) -> HourRows:
    """The hourly rows (sorted by point, hour) folded into (point, UTC day) rows, same order."""
    out: HourRows = []
    for pid, hour, samples, good, valued, total, low, high in hours:
        day = hour - hour % DAY_US
        if out and out[-1][0] == pid and out[-1][1] == day:
            p, d, s0, g0, v0, t0, lo0, hi0 = out[-1]
            lows = [x for x in (lo0, low) if x is not None]
            highs = [x for x in (hi0, high) if x is not None]
            out[-1] = (
                p,
                d,
                s0 + samples,
                g0 + good,
                v0 + valued,
                t0 + total,
                min(lows) if lows else None,
                max(highs) if highs else None,
            )
        else:
            out.append((pid, day, samples, good, valued, total, low, high))
    return out


def add_to(table: str) -> str:
    """The ON CONFLICT action that folds a new group into ``table``'s row: counts and sums add
    up; the extremes keep whichever is further out (NULL: no value yet)."""
    return f"""SET
  samples = {table}.samples + excluded.samples,
  good = {table}.good + excluded.good,
  valued = {table}.valued + excluded.valued,
  sum_value = {table}.sum_value + excluded.sum_value,
  min_value = CASE WHEN excluded.min_value IS NULL THEN {table}.min_value
                   WHEN {table}.min_value IS NULL OR excluded.min_value < {table}.min_value
                   THEN excluded.min_value ELSE {table}.min_value END,
  max_value = CASE WHEN excluded.max_value IS NULL THEN {table}.max_value
                   WHEN {table}.max_value IS NULL OR excluded.max_value > {table}.max_value
                   THEN excluded.max_value ELSE {table}.max_value END"""


COLUMNS = "samples, good, valued, sum_value, min_value, max_value"

SQLITE_UPSERT = f"""
INSERT INTO reading_hourly (point_id, hour_ts, {COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (point_id, hour_ts) DO UPDATE {add_to("reading_hourly")}
"""  # noqa: S608  (built from constants only)

SQLITE_UPSERT_DAILY = f"""
INSERT INTO reading_daily (point_id, day_ts, {COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (point_id, day_ts) DO UPDATE {add_to("reading_daily")}
"""  # noqa: S608

# PostgreSQL: both roll-ups in one statement, the day groups formed server-side from the same
# arrays (one round trip; rows in (point, time) order, so concurrent batches lock them alike).
POSTGRES_UPSERT = f"""
WITH src AS MATERIALIZED (
  SELECT * FROM unnest(%b::int4[], %b::int8[], %b::int8[], %b::int8[], %b::int8[],
                       %b::float8[], %b::float8[], %b::float8[])
         AS t(point_id, hour_ts, {COLUMNS})
), hourly AS (
  INSERT INTO reading_hourly (point_id, hour_ts, {COLUMNS})
  SELECT * FROM src
  ON CONFLICT (point_id, hour_ts) DO UPDATE {add_to("reading_hourly")}
  RETURNING 1
)
INSERT INTO reading_daily (point_id, day_ts, {COLUMNS})
SELECT point_id, hour_ts - hour_ts %% 86400000000, SUM(samples), SUM(good), SUM(valued),
       SUM(sum_value), MIN(min_value), MAX(max_value)
FROM src GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (point_id, day_ts) DO UPDATE {add_to("reading_daily")}
"""  # noqa: S608

__all__ = [
    "COLUMNS",
    "POSTGRES_UPSERT",
    "SQLITE_UPSERT",
    "SQLITE_UPSERT_DAILY",
    "HourRows",
    "add_to",
    "aggregate_hourly_rows",
    "daily_rows",
    "hourly_rows",
]
