"""The built-in profile catalogue: every file loads, resolves, simulates, and cites its limits.

Parametrized over the folder, so a new profile is tested as soon as it is added.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from device_profiles import (
    Catalog,
    DeviceEntry,
    DeviceProfile,
    Protocol,
    load_profile,
    resolve_device,
)
from device_profiles.loader import PROFILES_DIR
from protocols.modbus.points import DataType, ModbusPoint, Table, WordOrder
from simulators.device import SimDevice

PROFILE_FILES = sorted(PROFILES_DIR.glob("*.yaml"))
SOURCE_KEY = re.compile(r"\[[A-Z]\d+[a-z]?\]")  # a source key of hse-standards.md §9, e.g. [G14]
URLS = {
    Protocol.MODBUS: "modbus+tcp://127.0.0.1:15020",
    Protocol.OPCUA: "opc.tcp://127.0.0.1:14840",
    Protocol.MQTT: "mqtt://127.0.0.1:1883",
}


def entry_for(profile: DeviceProfile, device_id: str = "dev-1") -> DeviceEntry:
    return DeviceEntry(id=device_id, profile=profile.id, url=URLS[profile.protocol])


def all_profiles() -> list[DeviceProfile]:
    return [load_profile(p) for p in PROFILE_FILES]


def test_catalogue_has_at_least_twelve_profiles_over_every_protocol() -> None:
    profiles = all_profiles()
    assert len(profiles) >= 12
    by_protocol = {proto: [p.id for p in profiles if p.protocol is proto] for proto in Protocol}
    assert all(len(ids) >= 2 for ids in by_protocol.values()), by_protocol


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.stem)
def test_profile_loads_and_resolves_to_driver_specs(path: Path) -> None:
    profile = load_profile(path)
    assert profile.id == path.stem
    resolved = resolve_device(entry_for(profile), profile)
    assert [p.point_id for p in resolved.points] == [p.id for p in profile.points]
    for point in resolved.points:
        text = str(point.spec)
        assert "{device}" not in text, f"{point.point_id}: device id not filled in: {text}"


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.stem)
def test_default_alarms_lie_inside_the_range_and_cite_a_standard(path: Path) -> None:
    profile = load_profile(path)
    for point in profile.points:
        if point.alarms is None:
            continue
        where = f"{profile.id}/{point.id}"
        rng = point.canonical_range()
        assert rng is not None, f"{where}: a point with alarms needs a measuring range"
        assert point.alarms.ladder(), f"{where}: alarms without a limit"
        assert point.alarms.deadband > 0, f"{where}: no deadband"
        assert SOURCE_KEY.search(point.alarms.source), f"{where}: alarms.source cites no key"
        for name, value in point.alarms.ladder():
            limit = getattr(point.alarms, name)
            assert rng[0] <= value <= rng[1], f"{where}.{name}={value} outside {rng}"
            assert SOURCE_KEY.search(limit.source), f"{where}.{name}: {limit.source!r}"


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.stem)
def test_limit_comments_name_the_standard_beside_the_number(path: Path) -> None:
    # STYLE: cite the standard beside a safety number. Every line that sets an alarm limit
    # carries a YAML comment.
    lines = path.read_text(encoding="utf-8").splitlines()
    limit_lines = [ln for ln in lines if re.match(r"\s+(hh|h|l|ll): \{value:", ln)]
    uncommented = [ln.strip() for ln in limit_lines if " # " not in ln]
    assert not uncommented, f"{path.name}: limits without a comment: {uncommented}"


def test_toxic_and_combustible_defaults_respect_gb_t_50493() -> None:
    # GB/T 50493-2019 §5.5.2 [G13]: toxic level 1 <= 100 % OEL, level 2 <= 200 % OEL;
    # combustible level 1 <= 25 %LEL, level 2 <= 50 %LEL; O2 19.5 / 23.5 %VOL.
    gbz = Catalog().limit_set("cn-gbz-2019")
    checked = 0
    for profile in all_profiles():
        for point in profile.points:
            if point.alarms is None or point.alarms.h is None:
                continue
            h = point.alarms.h.value
            hh = point.alarms.hh.value if point.alarms.hh else None
            if point.quantity == "gas.lel":
                assert h <= 25, (profile.id, point.id)
                assert hh is None or hh <= 50, (profile.id, point.id)
            elif point.quantity == "gas.o2":
                assert point.alarms.l is not None
                assert point.alarms.l.value == 19.5
                assert h == 23.5
                assert point.alarms.ll is not None
                assert point.alarms.ll.value < 19.5
            elif point.quantity.startswith("gas.") and point.quantity in gbz.substances:
                limits = gbz.substances[point.quantity]
                oel = limits.ceiling or limits.twa
                assert oel is not None
                oel_ppm = oel.in_unit(point.quantity, "ppm", gbz.molar_volume_l)
                assert h <= oel_ppm, (profile.id, point.id, h, oel_ppm)
                assert hh is None or hh <= 2 * oel_ppm, (profile.id, point.id, hh, 2 * oel_ppm)
            else:
                continue
            checked += 1
    assert checked >= 15


def _modbus_points(profile: DeviceProfile) -> list[tuple[ModbusPoint, str]]:
    resolved = resolve_device(entry_for(profile), profile)
    return [(p.spec, p.point_id) for p in resolved.points if isinstance(p.spec, ModbusPoint)]


def test_catalogue_uses_every_modbus_type_and_word_order() -> None:
    types: set[str] = set()
    orders: set[WordOrder] = set()
    for profile in all_profiles():
        for spec, _ in _modbus_points(profile):
            if spec.dtype is DataType.BOOL:
                where = "register bit" if spec.bit is not None else spec.table.value
                types.add(f"bool in {where}")
            else:
                types.add(spec.dtype.name.lower())
            if spec.dtype.registers >= 2:  # word order only matters across registers
                orders.add(spec.order)
    wanted = {m.name.lower() for m in DataType if m is not DataType.BOOL} | {
        "bool in coil",
        "bool in discrete_input",
        "bool in register bit",
    }
    assert wanted - types == set(), f"Modbus types no profile uses: {sorted(wanted - types)}"
    assert set(WordOrder) - orders == set(), (
        f"word orders no profile uses: {set(WordOrder) - orders}"
    )


def test_catalogue_covers_every_sensor_family() -> None:
    quantities = {p.quantity for prof in all_profiles() for p in prof.points}
    for family in [
        "gas.h2s",
        "gas.co",
        "gas.o2",
        "gas.lel",
        "pressure",
        "noise.laeq",
        "noise.lcpeak",
        "dust.pm25",
        "dust.pm10",
        "dust.tsp",
        "dust.total",
        "dust.respirable",
        "vibration.velocity_rms",
    ]:
        assert family in quantities, family
    assert any(p.loop is not None for prof in all_profiles() for p in prof.points)


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.stem)
def test_addresses_follow_the_conventions(path: Path) -> None:
    profile = load_profile(path)
    for point in profile.points:
        if point.opcua is not None:
            assert point.opcua.node_id.startswith("ns=2;s={device}."), point.opcua.node_id
        if point.mqtt is not None:
            assert point.mqtt.topic.startswith("plant/{device}/"), point.mqtt.topic
        if point.loop is not None:
            # NAMUR NE 43 [Q7]: a failure is at or below 3.6 mA / at or above 21.0 mA; a device
            # may burn out further out, never inside the valid band.
            assert point.loop.fault_low_ma <= 3.6
            assert point.loop.fault_high_ma >= 21.0
        if point.simulate is None and point.quantity != "info" and profile.kind != "safety_plc":
            pytest.fail(f"{profile.id}/{point.id} has no default simulate: signal")


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.stem)
def test_every_profile_simulates_plausible_wire_values(path: Path) -> None:
    profile = load_profile(path)
    device = SimDevice(entry=entry_for(profile), profile=profile, seed=11, clock=lambda: 0.0)
    for point in profile.points:
        modbus = point.modbus
        if modbus is not None and modbus.type == "string":
            text = device.text_value(point.id)
            assert text
            assert len(text) <= 2 * modbus.length
            continue
        for t in (0.0, 1.0, 60.0, 3600.0):
            wire = device.wire_value(point.id, t)
            assert math.isfinite(wire)
            engineering = device.engineering_value(point.id, t)
            if point.range is not None:
                assert point.range[0] <= engineering <= point.range[1]
            if point.loop is not None:
                scale = next(a.scale for a in (point.modbus, point.opcua, point.mqtt) if a)
                current_ma = wire * scale
                assert point.loop.low_ma <= current_ma <= point.loop.high_ma
            if modbus is not None and modbus.type in ("bool", "uint16", "uint32", "uint64"):
                assert wire >= 0
            if modbus is not None and modbus.table in (Table.COIL, Table.DISCRETE_INPUT):
                assert wire in (0.0, 1.0)
