"""Decoding MQTT payloads into samples: field paths, numbers, timestamps, and every failure."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import Quality
from protocols.mqtt import MqttPoint, PayloadFormat
from protocols.mqtt.payload import decode, parse_timestamp

REASONS = {
    "mqtt.payload.empty",
    "mqtt.payload.too_large",
    "mqtt.payload.not_utf8",
    "mqtt.payload.not_json",
    "mqtt.payload.missing_field",
    "mqtt.payload.bool_not_number",
    "mqtt.payload.not_number",
    "mqtt.payload.not_finite",
    "mqtt.payload.missing_timestamp",
    "mqtt.payload.bad_timestamp",
}
PM10 = MqttPoint(key="pm10", topic="t", field="data.pm10", timestamp_field="meta.ts")
PM25 = MqttPoint(key="pm25", topic="t", field="data.pm25", timestamp_field="meta.ts")
NUMBER = MqttPoint(key="n", topic="t", payload=PayloadFormat.NUMBER, scale=0.1, offset=1.0)


def one(
    point: MqttPoint, payload: bytes | str, limit: int = 1000
) -> tuple[Quality, object, object, object]:
    raw = payload.encode() if isinstance(payload, str) else payload
    (sample,) = decode([point], raw, 99.0, max_payload_bytes=limit)
    return sample.quality, sample.value, sample.reason, sample.source_ts


def test_one_json_message_feeds_several_points() -> None:
    payload = json.dumps({"meta": {"ts": 1715000000}, "data": {"pm10": 42, "pm25": 17.5}}).encode()
    samples = decode([PM10, PM25], payload, 99.0, max_payload_bytes=1000)
    assert [(s.key, s.value, s.quality, s.source_ts, s.received_ts) for s in samples] == [
        ("pm10", 42.0, Quality.GOOD, 1715000000.0, 99.0),
        ("pm25", 17.5, Quality.GOOD, 1715000000.0, 99.0),
    ]


def test_one_bad_field_does_not_spoil_the_other_point() -> None:
    payload = json.dumps({"meta": {"ts": 1}, "data": {"pm10": "n/a", "pm25": 3}}).encode()
    pm10, pm25 = decode([PM10, PM25], payload, 1.0, max_payload_bytes=1000)
    assert (pm10.quality, pm10.reason) == (Quality.BAD, "mqtt.payload.not_number")
    assert (pm25.quality, pm25.value) == (Quality.GOOD, 3.0)


def test_plain_number_payload_is_scaled() -> None:
    assert one(NUMBER, " 715 \n") == (Quality.GOOD, pytest.approx(72.5), None, None)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "mqtt.payload.empty"),
        (b"\xc3\x28", "mqtt.payload.not_utf8"),
        (b"7O.5", "mqtt.payload.not_json"),
        (b"true", "mqtt.payload.bool_not_number"),
        (b'"12"', "mqtt.payload.not_number"),
        (b"null", "mqtt.payload.not_number"),
        (b"[1]", "mqtt.payload.not_number"),
        (b"NaN", "mqtt.payload.not_finite"),
        (b"Infinity", "mqtt.payload.not_finite"),
        (b"1e999", "mqtt.payload.not_finite"),
        (b"1" * 1001, "mqtt.payload.too_large"),
    ],
)
def test_number_payload_failures(payload: bytes, reason: str) -> None:
    assert one(NUMBER, payload) == (Quality.BAD, None, reason, None)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"meta": {"ts": 1}}, "mqtt.payload.missing_field"),
        ({"meta": {"ts": 1}, "data": [1, 2]}, "mqtt.payload.missing_field"),
        ({"meta": {"ts": 1}, "data": {"pm10": False}}, "mqtt.payload.bool_not_number"),
        ({"meta": {"ts": 1}, "data": {"pm10": {"v": 1}}}, "mqtt.payload.not_number"),
        ({"data": {"pm10": 1}}, "mqtt.payload.missing_timestamp"),
        ({"meta": {"ts": "2024-05-06 07:08"}, "data": {"pm10": 1}}, "mqtt.payload.bad_timestamp"),
        ({"meta": {"ts": True}, "data": {"pm10": 1}}, "mqtt.payload.bad_timestamp"),
        ({"meta": {"ts": [1]}, "data": {"pm10": 1}}, "mqtt.payload.bad_timestamp"),
    ],
)
def test_json_field_failures(document: object, reason: str) -> None:
    assert one(PM10, json.dumps(document)) == (Quality.BAD, None, reason, None)


def test_list_indices_in_field_paths() -> None:
    point = MqttPoint(key="second", topic="t", field="values.1")
    assert one(point, '{"values": [1, 2.5]}')[:2] == (Quality.GOOD, 2.5)
    assert one(point, '{"values": [1]}')[2] == "mqtt.payload.missing_field"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (1715000000, 1715000000.0),
        (1715000000.25, 1715000000.25),
        (1715000000123, 1715000000.123),
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()),
        (
            "2024-05-06T09:08:09.5+02:00",
            datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC).timestamp(),
        ),
    ],
)
def test_timestamp_forms(stamp: object, expected: float) -> None:
    assert parse_timestamp(stamp) == pytest.approx(expected, abs=1e-6)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_sample_never_an_exception(payload: bytes) -> None:
    for point in (PM10, NUMBER):
        (sample,) = decode([point], payload, 1.0, max_payload_bytes=256)
        if sample.quality is Quality.GOOD:
            assert isinstance(sample.value, float)
            assert math.isfinite(sample.value)
        else:
            assert sample.value is None
            assert sample.reason in REASONS


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53))
def test_any_json_number_round_trips(number: float) -> None:
    payload = json.dumps({"meta": {"ts": 1715000000}, "data": {"pm10": number}}).encode()
    (sample,) = decode([PM10], payload, 1.0, max_payload_bytes=10_000)
    assert sample.quality is Quality.GOOD
    assert sample.value == float(number)
