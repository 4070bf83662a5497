"""The simulated unit without a socket: what it answers for a profile, and what it refuses."""

from __future__ import annotations

import math

import pytest

from device_profiles import Catalog, DeviceEntry
from protocols.modbus import DataType, ModbusPoint, Table, decode
from simulators.device import SimDevice
from simulators.modbus import NoAnswer, ProfileUnit, raw_registers


@pytest.fixture
def unit() -> ProfileUnit:
    profile = Catalog().profile("gd-h2s-mb")
    entry = DeviceEntry(id="gas", profile=profile.id, url="modbus+sim://", unit_id=4)
    return ProfileUnit(SimDevice(entry=entry, profile=profile))


def test_unit_id_comes_from_the_entry(unit: ProfileUnit) -> None:
    assert unit.unit_id == 4


def test_values_decode_with_the_profiles_type_and_order(unit: ProfileUnit) -> None:
    registers = unit.read(Table.INPUT, 0, 3)
    assert isinstance(registers, list)
    h2s = ModbusPoint(key="h2s", table=Table.INPUT, address=0, dtype=DataType.FLOAT32, order="CDAB")  # type: ignore[arg-type]
    assert 0.0 <= decode(h2s, registers[:2]) <= 1.0  # type: ignore[operator]
    assert 4000 <= registers[2] <= 4200  # loop mA * 1000 for ~0.3 ppm on 0-100 ppm


def test_limits_of_the_profile_give_exceptions(unit: ProfileUnit) -> None:
    assert unit.read(Table.INPUT, 0, 4) == 2  # past the last input register
    assert unit.read(Table.HOLDING, 9, 1) == 2  # before the first holding register
    assert unit.read(Table.COIL, 0, 1) == 2  # the profile has no coils
    assert unit.check_read(Table.HOLDING, 10, 1) is None


def test_offline_unit_does_not_answer(unit: ProfileUnit) -> None:
    unit.device.set_online(False)
    with pytest.raises(NoAnswer):
        unit.check_read(Table.INPUT, 0, 2)
    with pytest.raises(NoAnswer):
        unit.write(Table.HOLDING, 10, [1])


def test_writes_are_stored_and_override_the_signal(unit: ProfileUnit) -> None:
    assert unit.write(Table.HOLDING, 10, [0xBEEF]) is None
    assert unit.read(Table.HOLDING, 10, 1) == [0xBEEF]
    assert unit.write(Table.HOLDING, 12, [1]) == 2  # past the last holding register


@pytest.mark.parametrize(
    ("dtype", "raw", "expected"),
    [
        (DataType.INT16, 1e9, [0x7FFF]),
        (DataType.UINT16, -5.0, [0]),
        (DataType.UINT16, 12.6, [13]),
        (DataType.INT16, math.nan, [0]),
        (DataType.FLOAT32, 1e300, [0x7F7F, 0xFFFF]),
    ],
)
def test_a_simulator_always_has_an_answer(dtype: DataType, raw: float, expected: list[int]) -> None:
    spec = ModbusPoint(key="p", address=0, dtype=dtype)
    assert raw_registers(spec, raw) == expected
