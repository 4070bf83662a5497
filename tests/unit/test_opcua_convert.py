"""DataValue -> Sample, value -> Variant, and the monitored-item request of a point."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asyncua import ua

from protocols import Quality, WriteError
from protocols.opcua import DeadbandType, OpcUaPoint
from protocols.opcua.convert import sample_from, to_variant, variant_type_of
from protocols.opcua.subscription import monitored_item_request, publishing_interval_ms

POINT = OpcUaPoint(key="p", node_id="ns=2;s=x")
SCALED = OpcUaPoint(key="s", node_id="ns=2;s=y", scale=0.1, offset=-5.0)
STAMP = datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)


def dv(value: object, code: int = 0, vtype: ua.VariantType = ua.VariantType.Double) -> ua.DataValue:
    return ua.DataValue(
        ua.Variant(value, vtype),
        ua.StatusCode(ua.UInt32(code)),
        SourceTimestamp=ua.DateTime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
    )


def test_good_value_is_scaled_and_keeps_its_source_timestamp() -> None:
    sample = sample_from(SCALED, dv(1013.0), received_ts=2e9)
    assert sample.quality is Quality.GOOD
    assert sample.value == pytest.approx(1013.0 * 0.1 - 5.0)
    assert sample.raw == 1013.0
    assert sample.source_ts == STAMP.timestamp()
    assert sample.received_ts == 2e9
    assert sample.reason is None
    assert sample.status_code == 0


def test_missing_source_timestamp_stays_missing() -> None:
    value = ua.DataValue(ua.Variant(1.0, ua.VariantType.Double))
    assert sample_from(POINT, value, received_ts=5.0).source_ts is None


def test_bad_status_drops_the_value() -> None:
    sample = sample_from(POINT, dv(12.0, 0x808C0000), received_ts=1.0)
    assert (sample.quality, sample.value, sample.reason, sample.status_code) == (
        Quality.BAD,
        None,
        "opcua.BadSensorFailure",
        0x808C0000,
    )
    assert sample.raw == 12.0  # kept for diagnostics only


def test_uncertain_keeps_the_value_and_names_the_code() -> None:
    sample = sample_from(POINT, dv(3.5, 0x40900000), received_ts=1.0)
    assert (sample.quality, sample.value, sample.reason) == (
        Quality.UNCERTAIN,
        3.5,
        "opcua.UncertainLastUsableValue",
    )


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        (ua.Variant([1.0, 2.0], ua.VariantType.Double), "opcua.BadTypeMismatch"),
        (ua.Variant(None), "opcua.null_value"),
        (ua.Variant(float("nan"), ua.VariantType.Double), "opcua.not_finite"),
        (ua.Variant(float("inf"), ua.VariantType.Float), "opcua.not_finite"),
        (ua.Variant(ua.LocalizedText("x"), ua.VariantType.LocalizedText), "opcua.BadTypeMismatch"),
    ],
)
def test_unusable_good_values_become_bad(variant: ua.Variant, reason: str) -> None:
    sample = sample_from(POINT, ua.DataValue(variant), received_ts=1.0)
    assert (sample.quality, sample.value, sample.reason) == (Quality.BAD, None, reason)


def test_booleans_and_strings_pass_through_unscaled() -> None:
    assert sample_from(SCALED, dv(True, vtype=ua.VariantType.Boolean), 1.0).value is True
    assert sample_from(SCALED, dv("RUN", vtype=ua.VariantType.String), 1.0).value == "RUN"


@pytest.mark.parametrize(
    ("value", "vtype", "wire"),
    [
        (150.0, ua.VariantType.Double, (150.0 + 5.0) / 0.1),
        (0.5, ua.VariantType.UInt16, 55),
        (True, ua.VariantType.Boolean, True),
    ],
)
def test_to_variant_unscales_to_the_node_type(
    value: object, vtype: ua.VariantType, wire: object
) -> None:
    variant = to_variant(SCALED, value, vtype)  # type: ignore[arg-type]
    assert variant.VariantType == vtype
    assert variant.Value == pytest.approx(wire)


@pytest.mark.parametrize(
    ("value", "vtype", "message"),
    [
        (0.53, ua.VariantType.UInt16, "not a whole number"),
        (-10.0, ua.VariantType.UInt16, r"in 0\.\.65535"),
        ("on", ua.VariantType.Boolean, "not a boolean"),
        (float("nan"), ua.VariantType.Double, "not a finite number"),
        (None, ua.VariantType.Double, "no value"),
        (1.0, ua.VariantType.ByteString, "not supported"),
    ],
)
def test_to_variant_refuses_what_does_not_fit(
    value: object, vtype: ua.VariantType, message: str
) -> None:
    with pytest.raises(WriteError, match=message):
        to_variant(SCALED, value, vtype)  # type: ignore[arg-type]


def test_variant_type_of_builtin_and_custom_data_types() -> None:
    assert variant_type_of(ua.NodeId(ua.Int32(11))) == ua.VariantType.Double
    assert variant_type_of(ua.NodeId(ua.Int32(1))) == ua.VariantType.Boolean
    assert variant_type_of(ua.NodeId(ua.Int32(3000), ua.Int16(2))) is None  # custom: read the value


def test_monitored_item_carries_sampling_interval_and_absolute_deadband() -> None:
    point = OpcUaPoint(
        key="o2",
        node_id="ns=2;s=O2",
        sampling_interval_ms=500,
        deadband_type=DeadbandType.ABSOLUTE,
        deadband=0.1,
    )
    request = monitored_item_request(point, ua.NodeId.from_string(point.node_id), 7, 1000.0)
    params = request.RequestedParameters
    assert params.ClientHandle == 7
    assert params.SamplingInterval == 500
    assert params.QueueSize == 2  # two samples fit in one publishing interval
    assert isinstance(params.Filter, ua.DataChangeFilter)
    assert params.Filter.DeadbandType == ua.DeadbandType.Absolute
    assert params.Filter.DeadbandValue == 0.1
    assert params.Filter.Trigger == ua.DataChangeTrigger.StatusValue


def test_percent_deadband_and_no_deadband() -> None:
    percent = OpcUaPoint(key="v", node_id="i=1", deadband_type=DeadbandType.PERCENT, deadband=2.0)
    request = monitored_item_request(percent, ua.NodeId.from_string("i=1"), 1, 1000.0)
    assert request.RequestedParameters.Filter.DeadbandType == ua.DeadbandType.Percent
    plain = monitored_item_request(POINT, ua.NodeId.from_string("i=1"), 2, 1000.0)
    assert not isinstance(plain.RequestedParameters.Filter, ua.DataChangeFilter)


def test_publishing_interval_follows_the_fastest_point_with_a_floor() -> None:
    fast = OpcUaPoint(key="a", node_id="i=1", sampling_interval_ms=200)
    slow = OpcUaPoint(key="b", node_id="i=2", sampling_interval_ms=2000)
    fastest = OpcUaPoint(key="c", node_id="i=3", sampling_interval_ms=0)
    assert publishing_interval_ms([fast, slow], None) == 200
    assert publishing_interval_ms([fastest], None) == 50
    assert publishing_interval_ms([fast], 750) == 750
