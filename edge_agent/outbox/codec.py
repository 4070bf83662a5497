"""Between outbox rows and the wire models of ``protocols.sync``.

Readings are stored as compact rows and become ``Reading`` models (validated) only when taken for
sending. Event-lane records (events, gaps, command results) are validated when they are added
and stored as the wire model's JSON without its seq.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from edge_agent.records import EventRecord
from protocols.sync import (
    AlarmEvent,
    CommandResult,
    Gap,
    Reading,
    ReadingAggregate,
    utc_from_posix,
)

from .errors import InvalidRecordError
from .schema import KIND_COMMAND_RESULT, KIND_EVENT, KIND_GAP, QUALITY_OF_CODE

EventLaneModel = AlarmEvent | Gap | CommandResult
Stream = tuple[str, str, str]  # point, quantity, unit

_MODEL_OF_KIND: Final[dict[str, type[AlarmEvent] | type[Gap] | type[CommandResult]]] = {
    KIND_EVENT: AlarmEvent,
    KIND_GAP: Gap,
    KIND_COMMAND_RESULT: CommandResult,
}
_PLACEHOLDER_SEQ: Final = 1  # validation needs a seq; the stored body leaves it out


def describe_validation_error(exc: ValidationError) -> str:
    """``field: message (value=...)`` for each problem, joined: short enough for a log or event."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "<record>"
        value = repr(err.get("input"))[:80]
        parts.append(f"{where}: {err['msg']} (value={value})")
    return "; ".join(parts)


class UtcStamps(dict[float, datetime]):
    """POSIX seconds -> aware UTC datetimes, each converted once: the readings of one poll
    cycle share their timestamps, so a batch converts a few dozen, not thousands."""

    def __missing__(self, ts: float) -> datetime:
        stamp = self[ts] = utc_from_posix(ts)
        return stamp


def reading_model(
    seq: int,
    stream: Stream,
    value: float | None,
    quality: int,
    reason: str | None,
    source_ts: float,
    received_ts: float,
    *,
    stamps: UtcStamps | None = None,
) -> Reading:
    point, quantity, unit = stream
    if stamps is not None:
        return Reading(
            seq=seq,
            point=point,
            quantity=quantity,
            unit=unit,
            value=value,
            quality=QUALITY_OF_CODE[quality],
            reason=reason,
            source_ts=stamps[source_ts],
            received_ts=stamps[received_ts],
        )
    return Reading(
        seq=seq,
        point=point,
        quantity=quantity,
        unit=unit,
        value=value,
        quality=QUALITY_OF_CODE[quality],
        reason=reason,
        source_ts=utc_from_posix(source_ts),
        received_ts=utc_from_posix(received_ts),
    )


def reading_json(seq: int, stream: Stream, row: tuple[Any, ...]) -> str:
    """A raw reading row as JSON, for the quarantine table when it cannot become a model."""
    point, quantity, unit = stream
    value, quality, reason, source_ts, received_ts = row
    return json.dumps(
        {
            "seq": seq,
            "point": point,
            "quantity": quantity,
            "unit": unit,
            "value": value,
            "quality": QUALITY_OF_CODE[quality].value,
            "reason": reason,
            "source_ts": source_ts,
            "received_ts": received_ts,
        }
    )


def aggregate_model(seq: int, stream: Stream, row: tuple[Any, ...]) -> ReadingAggregate:
    point, quantity, unit = stream
    from_ts, to_ts, count, minimum, maximum, mean, quality = row
    return ReadingAggregate(
        seq=seq,
        point=point,
        quantity=quantity,
        unit=unit,
        from_ts=utc_from_posix(from_ts),
        to_ts=utc_from_posix(to_ts),
        count=count,
        min=minimum,
        max=maximum,
        mean=mean,
        quality=QUALITY_OF_CODE[quality],
    )


def event_body(event: EventRecord) -> str:
    """The event's wire JSON (without seq); raises ``InvalidRecordError`` naming the bad field."""
    try:
        model = AlarmEvent(
            seq=_PLACEHOLDER_SEQ,
            event_id=event.event_id,
            point=event.point,
            category=event.category,
            kind=event.kind,
            transition=event.transition,
            state=event.state,
            priority=event.priority,
            value=event.value,
            limit=event.limit,
            ts=utc_from_posix(event.ts),
            actor=event.actor,
            message=event.message,
            details=dict(event.details),
        )
        return model.model_dump_json(exclude={"seq"})
    except ValidationError as exc:
        raise InvalidRecordError(
            f"event {event.event_id!r} ({event.kind}) does not fit the wire schema: "
            + describe_validation_error(exc)
        ) from exc
    except (TypeError, ValueError) as exc:  # details that JSON cannot carry
        raise InvalidRecordError(
            f"event {event.event_id!r} ({event.kind}): details must be JSON-serializable: {exc}"
        ) from exc


def gap_body(
    *, point: str | None, stream: str | None, from_ts: float, to_ts: float, count: int, reason: str
) -> str:
    try:
        model = Gap(
            seq=_PLACEHOLDER_SEQ,
            point=point,
            stream=stream,
            from_ts=utc_from_posix(from_ts),
            to_ts=utc_from_posix(to_ts),
            count=count,
            reason=reason,
        )
    except ValidationError as exc:
        raise InvalidRecordError(
            f"gap ({reason}) does not fit the wire schema: " + describe_validation_error(exc)
        ) from exc
    return model.model_dump_json(exclude={"seq"})


def command_result_body(command_id: str, ok: bool, message: str, ts: float) -> str:
    try:
        model = CommandResult(
            seq=_PLACEHOLDER_SEQ,
            command_id=command_id,
            ok=ok,
            message=message,
            ts=utc_from_posix(ts),
        )
    except ValidationError as exc:
        raise InvalidRecordError(
            f"result of command {command_id!r} does not fit the wire schema: "
            + describe_validation_error(exc)
        ) from exc
    return model.model_dump_json(exclude={"seq"})


def event_lane_model(seq: int, kind: str, body: str) -> EventLaneModel:
    """Rebuild the wire model of a stored event-lane record (raises ``ValidationError``)."""
    data = json.loads(body)
    data["seq"] = seq
    return _MODEL_OF_KIND[kind].model_validate(data)
