"""Ingest's pure parts: bounded inflate, locating schema errors, the checks of a batch against
its agent and the clock, the column layout, and the newest reading per point."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.core.epoch import to_us
from central.crud import AgentContext
from central.errors import BadRequest, Forbidden, TooLarge, Unprocessable
from central.ingest import Limits, ReadingColumns, inflate, parse_batch, prepare_batch
from central.ingest.service import newest_per_point
from protocols.sync import Batch
from tests.support.central import Seqs, aggregate, at, batch, event, gap, reading

AGENT = AgentContext(agent_id=7, agent_key="agent-1", plant_id=3, plant_key="p1")
NOW = datetime.now(UTC)  # sent_at of the built batches is the real clock
LIMITS = Limits(
    min_us=to_us(datetime(2000, 1, 1, tzinfo=UTC)),
    max_us=to_us(NOW) + 3600 * 1_000_000,
    max_records=100,
    max_future_skew_s=3600,
)


def prepare(b: Batch) -> object:
    return prepare_batch(b, agent=AGENT, received_us=to_us(NOW), limits=LIMITS)


# --- inflate --------------------------------------------------------------------------------


def test_inflate_passes_identity_and_inflates_gzip() -> None:
    data = b'{"a": 1}'
    assert inflate(data, content_encoding=None, max_inflated_bytes=100) == data
    assert inflate(gzip.compress(data), content_encoding="gzip", max_inflated_bytes=100) == data
    # gzip bytes without the header are still recognised by their magic number
    assert inflate(gzip.compress(data), content_encoding=None, max_inflated_bytes=100) == data


def test_inflate_stops_a_zip_bomb_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    with pytest.raises(TooLarge, match="inflates past the limit of 1000 bytes"):
        inflate(bomb, content_encoding="gzip", max_inflated_bytes=1000)
    exactly = gzip.compress(b"x" * 1000)
    assert len(inflate(exactly, content_encoding="gzip", max_inflated_bytes=1000)) == 1000


def test_inflate_refuses_corrupt_truncated_and_unknown_encodings() -> None:
    whole = gzip.compress(b"y" * 5000)
    with pytest.raises(BadRequest, match="truncated"):
        inflate(whole[:20], content_encoding="gzip", max_inflated_bytes=10_000)
    with pytest.raises(BadRequest, match="not valid gzip"):
        inflate(b"\x1f\x8bnot really", content_encoding="gzip", max_inflated_bytes=10_000)
    with pytest.raises(BadRequest, match="'br' is not supported"):
        inflate(b"{}", content_encoding="br", max_inflated_bytes=10_000)
    deflate = zlib.compress(b"{}")
    with pytest.raises(BadRequest):
        inflate(deflate, content_encoding="gzip", max_inflated_bytes=10_000)
    with pytest.raises(TooLarge):
        inflate(b"x" * 11, content_encoding=None, max_inflated_bytes=10)


# --- parse ----------------------------------------------------------------------------------


def test_parse_names_the_first_problem_and_counts_the_rest() -> None:
    b = batch("agent-1", "p1", readings=[reading(Seqs(), "p1/d/x", 1.0, at(i)) for i in range(9)])
    doc = json.loads(b.model_dump_json())
    for i in range(2, 9):
        doc["readings"][i]["seq"] = -i
    with pytest.raises(Unprocessable) as info:
        parse_batch(json.dumps(doc).encode())
    assert info.value.location == ["readings", 2, "seq"]
    assert info.value.detail.startswith("readings[2].seq: Input should be greater than")
    assert "(got -2)" in info.value.detail
    assert info.value.detail.endswith("and 2 more problem(s)")


def test_parse_reports_broken_json_with_its_position() -> None:
    with pytest.raises(Unprocessable) as info:
        parse_batch(b'{"agent_id": "a",')
    assert info.value.error == "malformed_json"
    assert "line 1 column" in info.value.detail


# --- prepare --------------------------------------------------------------------------------


def test_columns_hold_exact_microseconds_and_quality_codes() -> None:
    seqs = Seqs()
    ts = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    b = batch(
        "agent-1",
        "p1",
        readings=[
            reading(seqs, "p1/d/x", 1.5, ts),
            reading(seqs, "p1/d/y", None, ts, quality="bad", reason="timeout"),
            reading(seqs, "p1/d/x", 2.5, ts + timedelta(microseconds=1), quality="uncertain"),
        ],
        events=[event(seqs, None, ts)],
    )
    p = prepare(b)
    cols = p.readings  # type: ignore[attr-defined]
    assert cols.source_us == [1748779200123456, 1748779200123456, 1748779200123457]
    assert cols.quality == [0, 2, 1]
    assert cols.value == [1.5, None, 2.5]
    assert cols.reason == [None, "timeout", None]
    assert p.seqs == [1, 2, 3, 4]  # type: ignore[attr-defined]
    assert p.kinds == [1, 1, 1, 3]  # type: ignore[attr-defined]
    assert p.unit_hints == {"p1/d/x": ("gas.h2s", "ppm"), "p1/d/y": ("gas.h2s", "ppm")}  # type: ignore[attr-defined]


def test_the_token_decides_agent_and_plant() -> None:
    with pytest.raises(Forbidden) as info:
        prepare(batch("agent-2", "p1"))
    assert info.value.error == "wrong_agent"
    with pytest.raises(Forbidden) as info:
        prepare(batch("agent-1", "p2"))
    assert info.value.location == ["plant_id"]
    # a plant whose key starts like ours is still another plant
    sneaky = batch("agent-1", "p1", gaps=[gap(Seqs(), "p10/d/x", at(0), at(1), "r")])
    with pytest.raises(Forbidden) as info:
        prepare(sneaky)
    assert info.value.location == ["gaps", 0, "point"]


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(0), True),
        (timedelta(seconds=3600), True),
        (timedelta(seconds=3600, microseconds=1), False),
    ],
)
def test_future_skew_boundary(offset: timedelta, ok: bool) -> None:
    b = batch("agent-1", "p1", readings=[reading(Seqs(), "p1/d/x", 1.0, NOW + offset)])
    # received_ts is 5 ms after source_ts in the builder: move it back inside
    r = b.readings[0].model_copy(update={"received_ts": NOW})
    b = b.model_copy(update={"readings": [r]})
    if ok:
        prepare(b)
    else:
        with pytest.raises(Unprocessable, match=r"readings\[0\]\.source_ts = .* ahead"):
            prepare(b)


def test_before_2000_is_refused_and_2000_itself_is_not() -> None:
    y2k = datetime(2000, 1, 1, tzinfo=UTC)
    prepare(batch("agent-1", "p1", events=[event(Seqs(), None, y2k)]))
    with pytest.raises(Unprocessable) as info:
        prepare(
            batch("agent-1", "p1", events=[event(Seqs(), None, y2k - timedelta(microseconds=1))])
        )
    assert info.value.location == ["events", 0, "ts"]
    assert "before 2000-01-01T00:00:00Z" in info.value.detail


def test_record_cap_repeated_seqs_and_reversed_spans() -> None:
    seqs = Seqs()
    too_many = batch(
        "agent-1", "p1", readings=[reading(seqs, "p1/d/x", 1.0, at(i)) for i in range(101)]
    )
    with pytest.raises(TooLarge, match="101 records; the limit is 100"):
        prepare(too_many)
    twice = batch(
        "agent-1",
        "p1",
        readings=[reading(Seqs(), "p1/d/x", 1.0, at(0))],
        gaps=[gap(Seqs(), None, at(0), at(1), "r")],
    )
    with pytest.raises(Unprocessable) as info:
        prepare(twice)
    assert info.value.location == ["gaps", 0, "seq"]
    assert "repeats readings[0].seq" in info.value.detail
    backwards = batch("agent-1", "p1", aggregates=[aggregate(Seqs(), "p1/d/x", at(10), at(5))])
    with pytest.raises(Unprocessable, match=r"aggregates\[0\]\.to_ts .* is before from_ts"):
        prepare(backwards)


def test_counts_that_do_not_fit_64_bits_are_refused() -> None:
    g = gap(Seqs(), None, at(0), at(1), "r").model_copy(update={"count": 2**63})
    with pytest.raises(Unprocessable) as info:
        prepare(batch("agent-1", "p1", gaps=[g]))
    assert info.value.location == ["gaps", 0, "count"]


# --- newest per point -----------------------------------------------------------------------


def _reference(cols: ReadingColumns, ids: list[int]) -> dict[int, tuple[int, int]]:
    best: dict[int, tuple[int, int]] = {}
    for pid, s, q in zip(ids, cols.source_us, cols.seq, strict=True):
        if pid not in best or (s, q) > best[pid]:
            best[pid] = (s, q)
    return best


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 50)),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_newest_per_point_matches_a_plain_scan(rows: list[tuple[int, int]], ordered: bool) -> None:
    if ordered:
        rows = sorted(rows, key=lambda r: r[1])
    cols = ReadingColumns(
        seq=list(range(1, len(rows) + 1)),
        point=[f"p1/d/{pid}" for pid, _ in rows],
        source_us=[ts for _, ts in rows],
        received_us=[ts for _, ts in rows],
        value=[float(ts) for _, ts in rows],
        quality=[0] * len(rows),
        reason=[None] * len(rows),
    )
    ids = [pid for pid, _ in rows]
    got = {row[0]: (row[1], row[6]) for row in newest_per_point(cols, ids)}
    assert got == _reference(cols, ids)
