"""Decoding one MQTT message into one sample per point it feeds.

A JSON payload is parsed once, then each point takes its value at its dotted ``field`` path
(``data.pm10``; a numeric segment indexes a list) and, if it has one, its timestamp at
``timestamp_field``. A ``number`` payload is a plain number in ASCII. Anything else is a BAD
sample with one of these reasons, never a guessed value:

==================================  =================================================================
``mqtt.payload.empty``              no bytes at all
``mqtt.payload.too_large``          more bytes than ``max_payload_bytes``
``mqtt.payload.not_utf8``           bytes that are not UTF-8 text
``mqtt.payload.not_json``           text that is not JSON (or, for ``number``, not a JSON number)
``mqtt.payload.missing_field``      the field path does not lead to a value
``mqtt.payload.bool_not_number``    ``true`` / ``false`` where a number is expected
``mqtt.payload.not_number``         a string, list, object or null where a number is expected
``mqtt.payload.not_finite``         NaN or +-Infinity
``mqtt.payload.missing_timestamp``  the point has a timestamp field and the payload lacks it
``mqtt.payload.bad_timestamp``      a timestamp that does not parse
==================================  =================================================================

Timestamps: a number is epoch seconds, or epoch milliseconds when it is 1e11 or more (1e11 s
would be the year 5138, 1e11 ms is March 1973); a string is ISO 8601 and must carry a zone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from protocols.types import Quality, Sample

from .points import MqttPoint, PayloadFormat

EPOCH_MS_THRESHOLD = 1e11


class PayloadProblem(Exception):
    """A payload (or one point's part of it) does not decode; ``reason`` is the sample reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def parse_json(payload: bytes) -> Any:
    """The JSON document in ``payload``; raises ``PayloadProblem``."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadProblem("mqtt.payload.not_utf8", "payload is not UTF-8 text") from None
    try:
        # json reads the NaN / Infinity literals as floats; as_number refuses them per point.
        return json.loads(text)
    except ValueError as exc:
        raise PayloadProblem("mqtt.payload.not_json", f"payload is not JSON: {exc}") from None


def lookup(document: Any, path: str) -> Any:
    """The value at dotted ``path``; raises ``PayloadProblem`` (missing_field) if there is none."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PayloadProblem("mqtt.payload.missing_field", f"no value at {path!r}")
    return node


def as_number(value: Any, what: str) -> float:
    """``value`` as a finite float; booleans, strings and containers are refused."""
    if isinstance(value, bool):
        raise PayloadProblem("mqtt.payload.bool_not_number", f"{what} is a boolean: {value}")
    if not isinstance(value, int | float):
        shown = type(value).__name__ if value is not None else "null"
        raise PayloadProblem("mqtt.payload.not_number", f"{what} is {shown}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise PayloadProblem("mqtt.payload.not_finite", f"{what} is {number}")
    return number


def parse_timestamp(value: Any) -> float:
    """Epoch seconds from epoch seconds, epoch milliseconds or ISO 8601 with a zone."""
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PayloadProblem(
                "mqtt.payload.bad_timestamp", f"timestamp {value!r} is not ISO 8601"
            ) from None
        if stamp.tzinfo is None:
            raise PayloadProblem(
                "mqtt.payload.bad_timestamp", f"timestamp {value!r} has no zone (add Z or +hh:mm)"
            )
        return stamp.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PayloadProblem("mqtt.payload.bad_timestamp", f"timestamp {value!r} is not a time")
    return float(value) / 1000.0 if abs(value) >= EPOCH_MS_THRESHOLD else float(value)


def _bad(point: MqttPoint, received_ts: float, problem: PayloadProblem, raw: bytes) -> Sample:
    return Sample(point.key, None, Quality.BAD, received_ts, reason=problem.reason, raw=raw)


def decode(
    points: Sequence[MqttPoint],
    payload: bytes,
    received_ts: float,
    *,
    max_payload_bytes: int,
) -> list[Sample]:
    """One sample per point in ``points`` from one message's ``payload``."""
    if not payload:
        problem = PayloadProblem("mqtt.payload.empty", "empty payload")
        return [_bad(p, received_ts, problem, payload) for p in points]
    if len(payload) > max_payload_bytes:
        problem = PayloadProblem(
            "mqtt.payload.too_large", f"{len(payload)} bytes > {max_payload_bytes}"
        )
        return [_bad(p, received_ts, problem, payload[:64]) for p in points]
    try:
        document = parse_json(payload)
    except PayloadProblem as problem:
        return [_bad(p, received_ts, problem, payload) for p in points]
    return [_sample(point, document, payload, received_ts) for point in points]


def _sample(point: MqttPoint, document: Any, payload: bytes, received_ts: float) -> Sample:
    try:
        if point.payload is PayloadFormat.DOCUMENT:
            if not isinstance(document, dict):
                raise PayloadProblem("mqtt.payload.not_object", "payload is not a JSON object")
            source_ts = None
            if point.timestamp_field is not None:
                source_ts = parse_timestamp(lookup(document, point.timestamp_field))
            text = payload.decode("utf-8")
            return Sample(
                point.key, text, Quality.GOOD, received_ts, source_ts=source_ts, raw=payload
            )
        if point.payload is PayloadFormat.NUMBER:
            raw = as_number(document, "payload")
            source_ts = None
        else:
            assert point.field is not None  # MqttPoint requires it for JSON
            raw = as_number(lookup(document, point.field), f"field {point.field!r}")
            source_ts = None
            if point.timestamp_field is not None:
                try:
                    stamp = lookup(document, point.timestamp_field)
                except PayloadProblem:
                    raise PayloadProblem(
                        "mqtt.payload.missing_timestamp",
                        f"no timestamp at {point.timestamp_field!r}",
                    ) from None
                source_ts = parse_timestamp(stamp)
    except PayloadProblem as problem:
        return _bad(point, received_ts, problem, payload)
    value = raw * point.scale + point.offset
    return Sample(point.key, value, Quality.GOOD, received_ts, source_ts=source_ts, raw=raw)
