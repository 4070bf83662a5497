"""Normalization and quality checks of one point, in tables (edge_agent.normalize)."""

from __future__ import annotations

import pytest

from device_profiles import DeviceEntry, DeviceProfile, resolve_device
from edge_agent.config import QualityConfig
from edge_agent.normalize import EPOCH_FLOOR, PointChannel
from protocols import Quality, Sample

T0 = 1_800_000_000.0  # 2027-01-15, a plausible "now"

PROFILE = DeviceProfile.model_validate(
    {
        "id": "t",
        "manufacturer": "test",
        "model": "t",
        "kind": "gas_detector",
        "protocol": "modbus",
        "points": [
            {"id": "h2s", "quantity": "gas.h2s", "unit": "ppm", "range": [0, 100], "resolution": 0.1,
             "modbus": {"table": "input", "address": 0, "type": "float32"}},
            {"id": "p", "quantity": "pressure", "unit": "bar", "range": [0, 10],
             "modbus": {"table": "input", "address": 2, "type": "float32"}},
            {"id": "loop", "quantity": "gas.lel", "unit": "%LEL", "range": [0, 100],
             "modbus": {"table": "input", "address": 4, "type": "uint16", "scale": 0.001},
             "loop": {}},
        ],
    }
)  # fmt: skip


def channel(point: str, **quality: object) -> PointChannel:
    device = resolve_device(
        DeviceEntry(id="d1", profile="t", url="modbus+tcp://127.0.0.1:1"), PROFILE
    )
    return PointChannel.for_point(f"p1/d1/{point}", device.point(point), QualityConfig(**quality))  # type: ignore[arg-type]


def sample(value: object, t: float = T0, quality: Quality = Quality.GOOD, source: float | None = None,
           reason: str | None = None) -> Sample:  # fmt: skip
    return Sample("d1/x", value, quality, t, source_ts=source, reason=reason)  # type: ignore[arg-type]


def test_good_value_is_converted_to_the_canonical_unit() -> None:
    r = channel("p").process(sample(2.5))
    assert (r.value, r.unit, r.quality, r.reason) == (
        pytest.approx(250.0),
        "kPa",
        Quality.GOOD,
        None,
    )
    assert r.point == "p1/d1/p"
    assert r.quantity == "pressure"


def test_bad_sample_stays_bad_without_a_value() -> None:
    r = channel("h2s").process(sample(None, quality=Quality.BAD, reason="modbus.timeout"))
    assert (r.value, r.quality, r.reason) == (None, Quality.BAD, "modbus.timeout")


def test_source_timestamp_is_kept_and_missing_one_is_the_receive_time() -> None:
    ch = channel("h2s")
    assert ch.process(sample(1.0, source=T0 - 30)).source_ts == T0 - 30
    r = ch.process(sample(1.0))
    assert r.source_ts == r.received_ts == T0


@pytest.mark.parametrize("source", [0.0, EPOCH_FLOOR - 1, T0 + 3600])
def test_implausible_source_timestamp_is_flagged_and_replaced(source: float) -> None:
    r = channel("h2s").process(sample(1.0, source=source))
    assert (r.quality, r.reason, r.source_ts, r.value) == (
        Quality.UNCERTAIN,
        "timestamp.implausible",
        T0,
        1.0,
    )


@pytest.mark.parametrize(("value", "reason"), [(-0.5, "range.under"), (100.5, "range.over")])
def test_out_of_measuring_range_is_uncertain_and_keeps_the_value(value: float, reason: str) -> None:
    r = channel("h2s").process(sample(value))
    assert (r.quality, r.reason, r.value) == (Quality.UNCERTAIN, reason, value)


@pytest.mark.parametrize(
    ("ma", "value", "quality", "reason"),
    [
        (4.0, 0.0, Quality.GOOD, None),
        (12.0, 50.0, Quality.GOOD, None),
        (20.0, 100.0, Quality.GOOD, None),
        (3.9, 0.0, Quality.GOOD, None),  # NE 43 saturation below span: at the range's low end
        (20.4, 102.5, Quality.UNCERTAIN, "range.over"),  # saturation above span: over range
        (3.7, None, Quality.UNCERTAIN, "ne43.transition"),
        (20.7, None, Quality.UNCERTAIN, "ne43.transition"),
        (3.5, None, Quality.UNCERTAIN, "ne43.fail_low.pending"),
        (21.5, None, Quality.UNCERTAIN, "ne43.fail_high.pending"),
    ],
)
def test_current_loop_maps_and_checks_namur_ne43(
    ma: float, value: float | None, quality: Quality, reason: str | None
) -> None:
    r = channel("loop").process(sample(ma))
    assert (r.quality, r.reason) == (quality, reason)
    assert r.value == (pytest.approx(value) if value is not None else None)


def test_loop_failure_becomes_bad_after_persisting_four_seconds_and_recovers() -> None:
    ch = channel("loop")
    reasons = [ch.process(sample(3.5, t=T0 + dt)).reason for dt in (0.0, 2.0, 3.9, 4.0, 6.0)]
    assert reasons == ["ne43.fail_low.pending"] * 3 + ["ne43.fail_low"] * 2
    back = ch.process(sample(12.0, t=T0 + 7))
    assert (back.quality, back.value) == (Quality.GOOD, pytest.approx(50.0))
    assert (
        ch.process(sample(3.5, t=T0 + 8)).reason == "ne43.fail_low.pending"
    )  # the timer restarted


def test_flatline_after_movement_is_flagged_but_a_quiet_constant_sensor_is_not() -> None:
    ch = channel("h2s", flatline_samples=5)
    values = [1.0, 1.2, 1.1] + [1.3] * 6
    reasons = [ch.process(sample(v, t=T0 + i)).reason for i, v in enumerate(values)]
    assert reasons[:7] == [None] * 7  # 1.3 repeated 4 times in all: not yet
    assert reasons[7:] == ["flatline", "flatline"]
    assert ch.process(sample(1.4, t=T0 + 20)).reason is None  # moves again: clear
    quiet = channel("h2s", flatline_samples=5)
    assert {quiet.process(sample(2.0, t=T0 + i)).reason for i in range(20)} == {None}


def test_value_pinned_at_range_end_is_saturation_not_flatline() -> None:
    ch = channel("h2s", flatline_samples=3)
    values = [0.2, 0.1] + [0.0] * 10
    assert {ch.process(sample(v, t=T0 + i)).reason for i, v in enumerate(values)} == {None}


def test_a_spike_is_flagged_for_two_samples_then_a_lasting_step_is_a_level_change() -> None:
    ch = channel("h2s", spike_k=5.0)
    base = [1.0, 1.1, 0.9, 1.05, 0.95] * 4
    assert {ch.process(sample(v, t=T0 + i)).reason for i, v in enumerate(base)} == {None}
    r = ch.process(sample(30.0, t=T0 + 100))
    assert (r.reason, r.value, r.quality) == (
        "spike",
        30.0,
        Quality.UNCERTAIN,
    )  # kept: alarms still see it
    assert ch.process(sample(1.0, t=T0 + 101)).reason is None  # back to baseline: it was a spike
    reasons = [ch.process(sample(30.0 + 0.1 * (i % 2), t=T0 + 110 + i)).reason for i in range(5)]
    assert reasons[:2] == ["spike", "spike"]
    assert reasons[2:] == [None, None, None]


def test_non_numeric_driver_value_is_bad_not_zero() -> None:
    r = channel("h2s").process(sample("ERR"))
    assert (r.value, r.quality, r.reason) == (None, Quality.BAD, "decode.not_numeric")


def test_nan_is_bad() -> None:
    r = channel("h2s").process(sample(float("nan")))
    assert (r.value, r.quality, r.reason) == (None, Quality.BAD, "decode.nan")


def test_status_words_are_not_checked_for_flatline_or_spikes() -> None:
    profile = DeviceProfile.model_validate(
        {"id": "s", "manufacturer": "t", "model": "t", "kind": "gas_detector", "protocol": "modbus",
         "points": [{"id": "status", "quantity": "status", "unit": "1",
                     "modbus": {"table": "holding", "address": 0, "type": "uint16"}}]}
    )  # fmt: skip
    device = resolve_device(
        DeviceEntry(id="d1", profile="s", url="modbus+tcp://127.0.0.1:1"), profile
    )
    ch = PointChannel.for_point(
        "p1/d1/status", device.point("status"), QualityConfig(flatline_samples=3)
    )
    values = [0, 4, 0, 0] + [0] * 40 + [512]  # a fault bit came and went; a sudden new bit
    assert {ch.process(sample(v, t=T0 + i)).reason for i, v in enumerate(values)} == {None}


def test_range_check_does_not_freeze_the_flatline_state() -> None:
    ch = channel("h2s", flatline_samples=4)
    for i, v in enumerate([1.0, 1.1, 101.0, 1.2, 1.2, 1.2, 1.2]):
        r = ch.process(sample(v, t=T0 + i))
    assert r.reason == "flatline"
