"""OPC UA status codes -> quality and reason (Part 4 §7.34, hse-standards.md §8.1)."""

from __future__ import annotations

import pytest

from protocols import Quality
from protocols.opcua.status import quality_of, reason_for, status_name


@pytest.mark.parametrize(
    ("code", "quality", "name"),
    [
        (0x00000000, Quality.GOOD, "Good"),
        (0x00300000, Quality.GOOD, "GoodClamped"),
        (0x40000000, Quality.UNCERTAIN, "Uncertain"),
        (0x40900000, Quality.UNCERTAIN, "UncertainLastUsableValue"),
        (0x40910000, Quality.UNCERTAIN, "UncertainSubstituteValue"),
        (0x80000000, Quality.BAD, "Bad"),
        (0x808C0000, Quality.BAD, "BadSensorFailure"),
        (0x808B0000, Quality.BAD, "BadDeviceFailure"),
        (0x80310000, Quality.BAD, "BadNoCommunication"),
        (0x80050000, Quality.BAD, "BadCommunicationError"),
        (0x808D0000, Quality.BAD, "BadOutOfService"),
    ],
)
def test_severity_bits_decide_quality(code: int, quality: Quality, name: str) -> None:
    assert quality_of(code) is quality
    assert status_name(code) == name


def test_info_bits_do_not_change_the_name_or_quality() -> None:
    # low 16 bits: limit bits "Constant" (0x0300) and overflow (0x0080) on UncertainLastUsableValue
    code = 0x40900000 | 0x0300 | 0x0080
    assert quality_of(code) is Quality.UNCERTAIN
    assert reason_for(code) == "opcua.UncertainLastUsableValue"


def test_reserved_severity_is_treated_as_bad() -> None:
    assert quality_of(0xC0000000) is Quality.BAD


def test_unknown_codes_are_named_by_severity_and_value() -> None:
    assert status_name(0x80FF0000) == "Bad_0x80FF0000"
    assert status_name(0x40FE0000) == "Uncertain_0x40FE0000"
    assert reason_for(0x80FF0000) == "opcua.Bad_0x80FF0000"


def test_plain_good_has_no_reason_but_other_codes_do() -> None:
    assert reason_for(0) is None
    assert reason_for(0x00300000) == "opcua.GoodClamped"
    assert reason_for(0x808C0000) == "opcua.BadSensorFailure"
