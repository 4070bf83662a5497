"""The ``rules:`` section is checked against the plant's points; every problem names its path."""

from __future__ import annotations

from datetime import date, time

import pytest

from device_profiles import DeviceEntry, DeviceProfile, Limit, resolve_device
from edge_agent.rules import (
    AlarmOverride,
    PointRules,
    RuleEngine,
    RulesConfig,
    RulesConfigError,
    ShiftConfig,
    load_rules_config,
    rule_point,
)
from edge_agent.rules.config import alarm_spec
from tests.unit.rules_kit import empty_limit_set, gas_point


def problems(config: RulesConfig, *points: object) -> dict[str, str]:
    pts = list(points) or [gas_point()]
    return {p.path: p.message for p in config.validate_for(pts)}  # type: ignore[arg-type]


def override(**kw: object) -> RulesConfig:
    return RulesConfig(points={"gd-1/h2s": PointRules(alarms=AlarmOverride(**kw))})  # type: ignore[arg-type]


def test_the_defaults_are_valid() -> None:
    assert problems(RulesConfig()) == {}


def test_h_above_hh_is_refused_by_path() -> None:
    found = problems(override(h=Limit(value=25)))  # the profile's HH is 20
    assert found == {"rules.points.gd-1/h2s.alarms.h.value": "H must be below HH=20"}


def test_a_deadband_wider_than_the_gap_between_limits() -> None:
    found = problems(override(h=Limit(value=18), deadband=2.5))  # H 18, HH 20: gap 2
    assert list(found) == ["rules.points.gd-1/h2s.alarms.deadband"]
    assert (
        "not smaller than the gap between H=18 and HH=20"
        in found["rules.points.gd-1/h2s.alarms.deadband"]
    )


def test_a_limit_outside_the_measuring_range() -> None:
    found = problems(override(hh=Limit(value=150)))  # range 0..100 ppm
    assert found == {
        "rules.points.gd-1/h2s.alarms.hh.value": "limit is outside the measuring range [0, 100] ppm"
    }


def test_an_unknown_point_id() -> None:
    config = RulesConfig(points={"gd-9/h2s": PointRules(exposure=False)})
    found = problems(config)
    assert list(found) == ["rules.points.gd-9/h2s"]
    assert found["rules.points.gd-9/h2s"].startswith("no such point; known points: demo/gd-1/h2s")


def test_a_full_point_id_works_as_a_key_too() -> None:
    config = RulesConfig(
        points={"demo/gd-1/h2s": PointRules(alarms=AlarmOverride(h=Limit(value=5)))}
    )
    assert problems(config) == {}
    spec = alarm_spec(gas_point(), config.points["demo/gd-1/h2s"], config.alarms)
    assert [(lim.name, lim.value) for lim in spec.limits] == [("h", 5.0), ("hh", 20.0)]


def test_a_bad_profile_default_is_named_as_such() -> None:
    point = gas_point(hh=150)  # the device profile's own HH is outside the range
    found = problems(RulesConfig(), point)
    assert found == {
        "demo/gd-1/h2s (device profile).alarms.hh.value": "limit is outside the measuring range [0, 100] ppm"
    }


def test_override_merges_and_disable_removes() -> None:
    config = override(h=Limit(value=7, priority="medium"), on_delay_s=3, disable=["hh"])
    spec = alarm_spec(gas_point(), config.points["gd-1/h2s"], config.alarms)
    assert [(lim.name, lim.value, lim.priority.value) for lim in spec.limits] == [
        ("h", 7.0, "medium")
    ]
    assert (spec.on_delay_s, spec.deadband) == (3.0, 1.0), "unset fields keep the profile's"


def test_a_rate_limit_must_be_positive() -> None:
    found = problems(override(roc_rise_per_s=Limit(value=0)))
    assert found == {
        "rules.points.gd-1/h2s.alarms.roc_rise_per_s.value": "a rate-of-change limit must be a positive rate per second"
    }


def test_shifts_that_overlap_are_refused() -> None:
    config = RulesConfig(shift=ShiftConfig(length_h=12))  # starts 06:00, 14:00, 22:00
    found = problems(config)
    assert list(found) == ["rules.shift.length_h"]
    assert "overlaps the next start" in found["rules.shift.length_h"]
    ok = RulesConfig(shift=ShiftConfig(length_h=12, starts=[time(7), time(19)]))
    assert problems(ok) == {}


def test_flood_clear_must_be_below_the_flood_count() -> None:
    config = load_rules_config({"alarms": {"flood_count": 10, "flood_clear_count": 10}})
    assert list(problems(config)) == ["rules.alarms.flood_clear_count"]


def test_load_rules_config_names_the_field_and_value() -> None:
    with pytest.raises(RulesConfigError) as info:
        load_rules_config(
            {"shift": {"length_h": 30, "timezone": "Mars/Olympus"}, "alarms": {"chatter": 3}}
        )
    paths = {p.path: (p.value, p.message) for p in info.value.problems}
    assert paths["rules.shift.length_h"][0] == 30
    assert "less than or equal to 24" in paths["rules.shift.length_h"][1]
    assert "unknown time zone 'Mars/Olympus'" in paths["rules.shift.timezone"][1]
    assert paths["rules.alarms.chatter"][1] == "unknown field"
    assert "rules.shift.length_h = 30" in str(info.value)


def test_the_engine_refuses_a_bad_config() -> None:
    with pytest.raises(RulesConfigError, match=r"rules.points.gd-1/h2s.alarms.h.value"):
        RuleEngine([gas_point()], override(h=Limit(value=25)), empty_limit_set(), plant_id="demo")
    with pytest.raises(RulesConfigError, match="given more than once"):
        RuleEngine([gas_point(), gas_point()], RulesConfig(), empty_limit_set(), plant_id="demo")


def test_rule_point_of_a_profile_in_bar_is_in_kpa() -> None:
    profile = DeviceProfile.model_validate(
        {
            "id": "pt-bar",
            "manufacturer": "Test",
            "model": "PT",
            "kind": "pressure_transmitter",
            "protocol": "modbus",
            "points": [
                {
                    "id": "p",
                    "quantity": "pressure",
                    "unit": "bar",
                    "range": [0, 16],
                    "resolution": 0.01,
                    "modbus": {"address": 0, "type": "float32"},
                    # limits are in the canonical unit (kPa) whatever unit the device reports in
                    "alarms": {
                        "h": {"value": 1000},
                        "hh": {"value": 1200, "latch": True},
                        "roc_per_s": {"value": 50},
                        "deadband": 20,
                        "on_delay_s": 2,
                    },
                }
            ],
        }
    )
    entry = DeviceEntry(
        id="pt-1",
        profile="pt-bar",
        url="modbus+tcp://127.0.0.1:502",
        area="unit-1",
        serial="SN-9",
        calibration_due=date(2026, 6, 1),
        poll_interval_s=2.0,
        timeout_s=1.0,
    )
    device = resolve_device(entry, profile)
    rp = rule_point("demo/pt-1/p", device, device.point("p"))
    # 1 bar = 100 kPa: the range and resolution convert; limits were given in kPa already
    assert rp.unit == "kPa"
    assert rp.range == (0.0, 1600.0)
    assert rp.resolution == pytest.approx(1.0)
    assert rp.alarms is not None
    assert rp.alarms.h is not None
    assert rp.alarms.hh is not None
    assert rp.alarms.roc_per_s is not None
    assert (rp.alarms.h.value, rp.alarms.hh.value, rp.alarms.hh.latch) == (1000.0, 1200.0, True)
    assert rp.alarms.roc_per_s.value == pytest.approx(50.0)
    assert rp.alarms.deadband == pytest.approx(20.0)
    assert rp.alarms.on_delay_s == 2.0
    assert (rp.area, rp.device_serial, rp.calibration_due) == ("unit-1", "SN-9", date(2026, 6, 1))
    assert rp.expected_interval_s == 2.0
    assert rp.device_id == "pt-1"
