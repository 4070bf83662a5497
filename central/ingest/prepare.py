"""Check a parsed batch against its agent and the clock, and lay it out in columns for storage.

Everything that can refuse a batch happens here, before the database is touched, so a refused
batch leaves nothing behind: the agent and plant must be the token's, every point must be in the
agent's plant (403), seqs must be unique within the batch, timestamps must be plausible (not
before ``min_valid_ts``, not more than ``max_future_skew_s`` past the server clock) and values
finite (422, naming the record and field).

Readings come out as columns (one list per field) since they are most of every batch: the
PostgreSQL writer sends them as arrays and the SQLite writer zips them into rows, both without a
Python object per reading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import attrgetter, floordiv, methodcaller, sub
from typing import Any

from central.core.epoch import EPOCH, ONE_US, iso, to_us
from central.crud import AgentContext
from central.errors import Forbidden, TooLarge, Unprocessable
from central.models import QUALITY_CODE, RecordKind
from protocols.sync import AgentHealth, Batch, PointInfo


@dataclass(frozen=True, slots=True)
class Limits:
    """The plausibility window for timestamps, in epoch microseconds, and the record cap."""

    min_us: int
    max_us: int
    max_records: int
    max_future_skew_s: float


@dataclass(slots=True)
class ReadingColumns:
    seq: list[int] = field(default_factory=list)
    point: list[str] = field(default_factory=list)
    source_us: list[int] = field(default_factory=list)
    received_us: list[int] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)
    reason: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seq)

    def subset(self, keep: list[int]) -> ReadingColumns:
        """The rows at indexes ``keep``, in order."""
        return ReadingColumns(
            *([column[i] for i in keep] for column in self.columns()),
        )

    def columns(self) -> tuple[list[Any], ...]:
        return (
            self.seq,
            self.point,
            self.source_us,
            self.received_us,
            self.value,
            self.quality,
            self.reason,
        )


@dataclass(slots=True)
class PreparedBatch:
    """A checked batch, ready for one transaction."""

    agent: AgentContext
    batch_key: str
    lane: str
    sent_us: int
    received_us: int
    readings: ReadingColumns
    aggregates: list[dict[str, Any]]
    events: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    command_results: list[dict[str, Any]]
    points: list[PointInfo]
    health: dict[str, Any] | None
    seqs: list[int]
    """Every record's seq, readings first (same order as ``kinds``)."""
    kinds: list[int]
    unit_hints: dict[str, tuple[str, str]]
    """(quantity, unit) of each point named by a reading, for points never registered."""

    @property
    def record_count(self) -> int:
        return len(self.seqs)

    def point_keys(self) -> set[str]:
        keys = set(self.readings.point)
        for rows in (self.aggregates, self.events, self.gaps):
            keys.update(r["point"] for r in rows if r["point"] is not None)
        return keys


def _implausible(where: str, us: int, limits: Limits) -> Unprocessable:
    if us < limits.min_us:
        why = f"is before {iso(limits.min_us)} (a clock that was never set?)"
    else:
        ahead_s = (us - limits.max_us) / 1e6 + limits.max_future_skew_s
        why = (
            f"is {ahead_s:.0f} s ahead of the server clock "
            f"(allowed: max_future_skew_s={limits.max_future_skew_s:g})"
        )
    return Unprocessable(f"{where} = {iso(us)} {why}", error="implausible_timestamp")


def _check_times(name: str, column: list[int], fieldname: str, limits: Limits) -> None:
    """Refuse the first timestamp outside the window; C-speed min/max in the common case."""
    if not column or (min(column) >= limits.min_us and max(column) <= limits.max_us):
        return
    for i, us in enumerate(column):
        if us < limits.min_us or us > limits.max_us:
            exc = _implausible(f"{name}[{i}].{fieldname}", us, limits)
            exc.location = [name, i, fieldname]
            raise exc


def _check_one(loc: list[str | int], ts: datetime | None, limits: Limits) -> int | None:
    if ts is None:
        return None
    us = to_us(ts)
    if us < limits.min_us or us > limits.max_us:
        exc = _implausible(".".join(str(p) for p in loc), us, limits)
        exc.location = loc
        raise exc
    return us


INT64_MAX = 2**63 - 1


def _check_int(loc: list[str | int], value: int) -> int:
    """Counts are BIGINT columns: refuse what does not fit instead of failing the transaction."""
    if value > INT64_MAX:
        raise Unprocessable(
            f"{'.'.join(str(p) for p in loc)} = {value} does not fit in 64 bits",
            error="schema",
            location=loc,
        )
    return value


def _finite(loc: list[str | int], value: float | None) -> float | None:
    """NaN and infinity are not measurements; SQLite would even store NaN as NULL."""
    if value is not None and not math.isfinite(value):
        raise Unprocessable(
            f"{'.'.join(str(p) for p in loc)} = {value}: must be a finite number or null",
            error="schema",
            location=loc,
        )
    return value


def _plain_json(loc: list[str | int], value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise Unprocessable(
            f"{'.'.join(str(p) for p in loc)}: {exc} (JSON has no NaN or infinity)",
            error="schema",
            location=loc,
        ) from exc
    return value


def _check_point(name: str, i: int, point: str | None, prefix: str, agent: AgentContext) -> None:
    if point is not None and not point.startswith(prefix):
        raise Forbidden(
            f"{name}[{i}].point {point!r} belongs to plant {point.split('/', 1)[0]!r}; "
            f"agent {agent.agent_key!r} writes only plant {agent.plant_key!r}",
            error="wrong_plant",
            location=[name, i, "point"],
        )


def prepare_batch(
    batch: Batch, *, agent: AgentContext, received_us: int, limits: Limits
) -> PreparedBatch:
    """Check ``batch`` for ``agent``; raise a 403/413/422 ``RequestRefused`` or lay it out."""
    if batch.agent_id != agent.agent_key:
        raise Forbidden(
            f"batch is for agent {batch.agent_id!r} but the token is agent {agent.agent_key!r}",
            error="wrong_agent",
            location=["agent_id"],
        )
    if batch.plant_id != agent.plant_key:
        raise Forbidden(
            f"batch is for plant {batch.plant_id!r} but agent {agent.agent_key!r} belongs to "
            f"plant {agent.plant_key!r}",
            error="wrong_plant",
            location=["plant_id"],
        )
    count = batch.record_count()
    if count > limits.max_records:
        raise TooLarge(
            f"batch has {count} records; the limit is {limits.max_records}",
            error="too_many_records",
        )
    prefix = agent.plant_key + "/"
    sent_us = _check_one(["sent_at"], batch.sent_at, limits)
    assert sent_us is not None

    readings = _reading_columns(batch, prefix, agent, limits)
    aggregates = _aggregates(batch, prefix, agent, limits)
    events = _events(batch, prefix, agent, limits)
    gaps = _gaps(batch, prefix, agent, limits)
    results = [
        {
            "seq": r.seq,
            "command_id": r.command_id,
            "ok": r.ok,
            "message": r.message,
            "ts": _check_one(["command_results", i, "ts"], r.ts, limits),
        }
        for i, r in enumerate(batch.command_results)
    ]
    for i, info in enumerate(batch.points):
        _check_point("points", i, info.point, prefix, agent)
        _finite(["points", i, "range_low"], info.range_low)
        _finite(["points", i, "range_high"], info.range_high)
        for name, limit in info.limits.items():
            _finite(["points", i, "limits", name], limit)
        if info.point.split("/")[1] != info.device:
            raise Unprocessable(
                f"points[{i}].device {info.device!r} is not the device segment of point "
                f"{info.point!r}",
                error="schema",
                location=["points", i, "device"],
            )

    seqs = [
        *readings.seq,
        *(r["seq"] for r in aggregates),
        *(r["seq"] for r in events),
        *(r["seq"] for r in gaps),
        *(r["seq"] for r in results),
    ]
    kinds = (
        [RecordKind.READING.value] * len(readings)
        + [RecordKind.AGGREGATE.value] * len(aggregates)
        + [RecordKind.EVENT.value] * len(events)
        + [RecordKind.GAP.value] * len(gaps)
        + [RecordKind.COMMAND_RESULT.value] * len(results)
    )
    if len(set(seqs)) != len(seqs):
        _refuse_repeated_seq(batch)

    rs = batch.readings
    unit_hints = dict(
        zip(readings.point, zip(map(_quantity, rs), map(_unit, rs), strict=True), strict=True)
    )
    for a in batch.aggregates:
        unit_hints.setdefault(a.point, (a.quantity, a.unit))

    return PreparedBatch(
        agent=agent,
        batch_key=batch.batch_id,
        lane=batch.lane.value,
        sent_us=sent_us,
        received_us=received_us,
        readings=readings,
        aggregates=aggregates,
        events=events,
        gaps=gaps,
        command_results=results,
        points=list(batch.points),
        health=_health(batch.health, limits),
        seqs=seqs,
        kinds=kinds,
        unit_hints=unit_hints,
    )


_seq = attrgetter("seq")
_point = attrgetter("point")
_source_ts = attrgetter("source_ts")
_received_ts = attrgetter("received_ts")
_value = attrgetter("value")
_quality = attrgetter("quality")
_reason = attrgetter("reason")
_quantity = attrgetter("quantity")
_unit = attrgetter("unit")


def _micros(times: Iterable[datetime]) -> list[int]:
    """(ts - EPOCH) // ONE_US for each, as C calls through map(): no Python frame per value."""
    return list(map(floordiv, map(sub, times, repeat(EPOCH)), repeat(ONE_US)))


def _reading_columns(
    batch: Batch, prefix: str, agent: AgentContext, limits: Limits
) -> ReadingColumns:
    # The hot path of ingest: one column at a time through map() and C-level getters, no
    # Python frame per reading; the slow loops below run only to name a refused record.
    rs = batch.readings
    cols = ReadingColumns(
        seq=list(map(_seq, rs)),
        point=list(map(_point, rs)),
        source_us=_micros(map(_source_ts, rs)),
        received_us=_micros(map(_received_ts, rs)),
        value=list(map(_value, rs)),
        quality=list(map(QUALITY_CODE.__getitem__, map(_quality, rs))),
        reason=list(map(_reason, rs)),
    )
    if not all(map(methodcaller("startswith", prefix), cols.point)):
        for i, p in enumerate(cols.point):
            _check_point("readings", i, p, prefix, agent)
    _check_times("readings", cols.source_us, "source_ts", limits)
    _check_times("readings", cols.received_us, "received_ts", limits)
    try:
        finite = all(map(math.isfinite, cols.value))  # type: ignore[arg-type]
    except TypeError:  # a None (a bad read) among the values: check one by one
        finite = False
    if not finite:
        for i, v in enumerate(cols.value):
            _finite(["readings", i, "value"], v)
    return cols


def _aggregates(
    batch: Batch, prefix: str, agent: AgentContext, limits: Limits
) -> list[dict[str, Any]]:
    rows = []
    for i, a in enumerate(batch.aggregates):
        _check_point("aggregates", i, a.point, prefix, agent)
        from_us = _check_one(["aggregates", i, "from_ts"], a.from_ts, limits)
        to_us_ = _check_one(["aggregates", i, "to_ts"], a.to_ts, limits)
        assert from_us is not None
        assert to_us_ is not None
        _check_order("aggregates", i, from_us, to_us_)
        rows.append(
            {
                "seq": a.seq,
                "point": a.point,
                "from_ts": from_us,
                "to_ts": to_us_,
                "count": _check_int(["aggregates", i, "count"], a.count),
                "min": _finite(["aggregates", i, "min"], a.min),
                "max": _finite(["aggregates", i, "max"], a.max),
                "mean": _finite(["aggregates", i, "mean"], a.mean),
                "quality": QUALITY_CODE[a.quality],
            }
        )
    return rows


def _events(batch: Batch, prefix: str, agent: AgentContext, limits: Limits) -> list[dict[str, Any]]:
    rows = []
    for i, e in enumerate(batch.events):
        _check_point("events", i, e.point, prefix, agent)
        rows.append(
            {
                "seq": e.seq,
                "point": e.point,
                "event_id": e.event_id,
                "category": e.category.value,
                "kind": e.kind,
                "transition": e.transition,
                "state": e.state,
                "priority": e.priority.value if e.priority else None,
                "value": _finite(["events", i, "value"], e.value),
                "limit_value": _finite(["events", i, "limit"], e.limit),
                "ts": _check_one(["events", i, "ts"], e.ts, limits),
                "actor": e.actor,
                "message": e.message,
                "details": _plain_json(["events", i, "details"], e.details),
            }
        )
    return rows


def _gaps(batch: Batch, prefix: str, agent: AgentContext, limits: Limits) -> list[dict[str, Any]]:
    rows = []
    for i, g in enumerate(batch.gaps):
        _check_point("gaps", i, g.point, prefix, agent)
        from_us = _check_one(["gaps", i, "from_ts"], g.from_ts, limits)
        to_us_ = _check_one(["gaps", i, "to_ts"], g.to_ts, limits)
        assert from_us is not None
        assert to_us_ is not None
        _check_order("gaps", i, from_us, to_us_)
        rows.append(
            {
                "seq": g.seq,
                "point": g.point,
                "stream": g.stream,
                "from_ts": from_us,
                "to_ts": to_us_,
                "count": _check_int(["gaps", i, "count"], g.count),
                "reason": g.reason,
            }
        )
    return rows


def _check_order(name: str, i: int, from_us: int, to_us_: int) -> None:
    if to_us_ < from_us:
        raise Unprocessable(
            f"{name}[{i}].to_ts = {iso(to_us_)} is before from_ts = {iso(from_us)}",
            error="schema",
            location=[name, i, "to_ts"],
        )


def _health(health: AgentHealth | None, limits: Limits) -> dict[str, Any] | None:
    if health is None:
        return None
    return {
        "ts": _check_one(["health", "ts"], health.ts, limits),
        "version": health.version[:64],
        "backlog_records": _check_int(["health", "backlog_records"], health.backlog_records),
        "oldest_unsent_ts": _check_one(
            ["health", "oldest_unsent_ts"], health.oldest_unsent_ts, limits
        ),
        "outbox_bytes": _check_int(["health", "outbox_bytes"], health.outbox_bytes),
        "quota_bytes": _check_int(["health", "quota_bytes"], health.quota_bytes),
        "gaps_total": _check_int(["health", "gaps_total"], health.gaps_total),
        "clock_offset_s": _finite(["health", "clock_offset_s"], health.clock_offset_s),
        "devices": [d.model_dump(mode="json") for d in health.devices],
    }


def _refuse_repeated_seq(batch: Batch) -> None:
    seen: dict[int, str] = {}
    named: list[tuple[str, list[Any]]] = [
        ("readings", list(batch.readings)),
        ("aggregates", list(batch.aggregates)),
        ("events", list(batch.events)),
        ("gaps", list(batch.gaps)),
        ("command_results", list(batch.command_results)),
    ]
    for name, records in named:
        for i, r in enumerate(records):
            where = f"{name}[{i}].seq"
            if r.seq in seen:
                raise Unprocessable(
                    f"{where} = {r.seq} repeats {seen[r.seq]}: every record of an agent has "
                    "its own seq (one seq space for all record types)",
                    error="repeated_seq",
                    location=[name, i, "seq"],
                )
            seen[r.seq] = where
