"""The hourly roll-up of a batch (numpy grouping) equals a plain per-reading fold; the office
hours check; local days across a DST change."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from central.compliance.days import local_days
from central.core.clock import out_of_hours
from central.core.epoch import to_us
from central.ingest.prepare import ReadingColumns
from central.store.rollup import hourly_rows

HOUR = 3_600_000_000
T0 = to_us(datetime(2025, 6, 1, tzinfo=UTC))

reading = st.tuples(
    st.integers(1, 5),  # point id
    st.integers(0, 5 * HOUR),  # µs after T0
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
    st.sampled_from([0, 1, 2]),
)


def fold(rows: list[tuple[int, int, float | None, int]]) -> list[tuple[object, ...]]:
    acc: dict[tuple[int, int], list[object]] = defaultdict(lambda: [0, 0, 0, 0.0, None, None])
    for pid, ts, value, quality in rows:
        a = acc[(pid, ts - ts % HOUR)]
        a[0] += 1  # type: ignore[operator]
        a[1] += quality == 0  # type: ignore[operator]
        if value is not None:
            a[2] += 1  # type: ignore[operator]
            a[3] += value  # type: ignore[operator]
            a[4] = value if a[4] is None else min(a[4], value)  # type: ignore[type-var]
            a[5] = value if a[5] is None else max(a[5], value)  # type: ignore[type-var]
    return [(pid, hour, *a) for (pid, hour), a in sorted(acc.items())]


@settings(max_examples=200, deadline=None)
@given(st.lists(reading, max_size=60))
def test_numpy_grouping_equals_a_plain_fold(rows: list[tuple[int, int, float | None, int]]) -> None:
    rows = [(pid, T0 + dt, v, q) for pid, dt, v, q in rows]
    cols = ReadingColumns(
        seq=list(range(1, len(rows) + 1)),
        point=["x"] * len(rows),
        source_us=[r[1] for r in rows],
        received_us=[r[1] for r in rows],
        value=[r[2] for r in rows],
        quality=[r[3] for r in rows],
        reason=[None] * len(rows),
    )
    got = hourly_rows(cols, [r[0] for r in rows])
    want = fold(rows)
    assert [g[:5] for g in got] == [w[:5] for w in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g[5] - w[5]) <= 1e-6 * max(1.0, abs(w[5]))  # type: ignore[operator, arg-type]
        assert g[6:] == w[6:]


def test_office_hours_in_the_plants_zone() -> None:
    def us(text: str) -> int:
        return to_us(datetime.fromisoformat(text))

    assert not out_of_hours(us("2025-06-02T04:00:00+00:00"), "Asia/Shanghai", "07:00", "19:00")
    assert out_of_hours(us("2025-06-02T11:00:00+00:00"), "Asia/Shanghai", "07:00", "19:00")  # 19:00
    assert not out_of_hours(
        us("2025-06-01T23:00:00+00:00"), "Asia/Shanghai", "07:00", "19:00"
    )  # 07:00
    assert out_of_hours(us("2025-06-01T22:59:59+00:00"), "Asia/Shanghai", "07:00", "19:00")
    # Office hours across midnight (a night office): 22:00-06:00.
    assert not out_of_hours(us("2025-06-02T02:00:00+00:00"), "UTC", "22:00", "06:00")
    assert out_of_hours(us("2025-06-02T12:00:00+00:00"), "UTC", "22:00", "06:00")


def test_local_days_follow_the_zone_across_a_dst_change() -> None:
    # Europe/Berlin leaves summer time on 2025-10-26: that day has 25 hours.
    start = to_us(datetime(2025, 10, 25, 12, tzinfo=UTC))
    end = to_us(datetime(2025, 10, 27, 12, tzinfo=UTC))
    days = local_days(start, end, "Europe/Berlin")
    assert [d.day.isoformat() for d in days] == ["2025-10-25", "2025-10-26", "2025-10-27"]
    assert [(d.end_us - d.start_us) // HOUR for d in days] == [24, 25, 24]
    assert days[0].start_us == to_us(datetime(2025, 10, 24, 22, tzinfo=UTC))
    assert all(a.end_us == b.start_us for a, b in itertools.pairwise(days))
