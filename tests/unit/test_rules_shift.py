"""Shift boundaries for the TWA and noise dose: local start times in the plant's time zone."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, time

import yaml

import edge_agent.rules as rules
from device_profiles import DeviceEntry, load_profile
from device_profiles.loader import PROFILES_DIR
from device_profiles.resolve import resolve_device
from edge_agent.rules import ShiftConfig, load_rules_config, rule_points
from edge_agent.rules.shift import ShiftClock


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_default_shifts_are_06_14_22_utc() -> None:
    clock = ShiftClock(ShiftConfig())
    s = clock.at(ts("2026-01-05T13:59:59+00:00"))
    assert (s.start, s.end, s.on) == (
        ts("2026-01-05T06:00:00+00:00"),
        ts("2026-01-05T14:00:00+00:00"),
        True,
    )
    night = clock.at(ts("2026-01-06T03:00:00+00:00"))
    assert (night.start, night.end) == (
        ts("2026-01-05T22:00:00+00:00"),
        ts("2026-01-06T06:00:00+00:00"),
    )


def test_twelve_hour_shifts_in_local_time_and_the_time_between_shifts() -> None:
    # 07:00 and 19:00 in Shanghai (UTC+8), 10 h long: 17:00-19:00 local is off-shift
    clock = ShiftClock(
        ShiftConfig(starts=[time(7), time(19)], length_h=10, timezone="Asia/Shanghai")
    )
    day = clock.at(ts("2026-01-05T08:00:00+08:00"))
    assert (day.start, day.end, day.on) == (
        ts("2026-01-05T07:00:00+08:00"),
        ts("2026-01-05T17:00:00+08:00"),
        True,
    )
    off = clock.at(ts("2026-01-05T18:00:00+08:00"))
    assert (off.start, off.end, off.on) == (
        ts("2026-01-05T17:00:00+08:00"),
        ts("2026-01-05T19:00:00+08:00"),
        False,
    )


def test_a_shift_keeps_its_real_length_across_daylight_saving() -> None:
    # Berlin moves to summer time at 02:00 on 2026-03-29; the 22:00 shift still lasts 8 hours
    clock = ShiftClock(ShiftConfig(starts=[time(22)], timezone="Europe/Berlin"))
    s = clock.at(ts("2026-03-29T01:30:00+01:00"))
    assert s.start == ts("2026-03-28T22:00:00+01:00")
    assert s.end - s.start == 8 * 3600
    assert datetime.fromtimestamp(s.end, UTC).hour == 5  # 07:00 CEST


def test_the_sample_config_in_the_package_docstring_loads() -> None:
    assert rules.__doc__ is not None
    sample = rules.__doc__.split("::", 1)[1].split("\n\nErrors", 1)[0]
    config = load_rules_config(yaml.safe_load(textwrap.dedent(sample))["rules"])
    assert config.shift.length_h == 12
    assert config.points["pump-1/vib"].machine is not None


def test_rule_points_from_the_shipped_h2s_profile() -> None:
    profile = load_profile(PROFILES_DIR / "gd-h2s-mb.yaml")
    entry = DeviceEntry(id="gd-1", profile="gd-h2s-mb", url="modbus+tcp://127.0.0.1:5020")
    device = resolve_device(entry, profile)
    points = rule_points((f"demo/gd-1/{p.point_id}", device, p) for p in device.points)
    h2s = next(p for p in points if p.point_id == "demo/gd-1/h2s")
    assert h2s.alarms is not None
    assert h2s.alarms.h is not None
    assert h2s.alarms.hh is not None
    assert (h2s.alarms.h.value, h2s.alarms.hh.value, h2s.alarms.hh.latch) == (7.0, 14.0, True)
    assert h2s.range == (0.0, 100.0)
    assert rules.RulesConfig().validate_for(points) == [], "the shipped defaults are valid"
