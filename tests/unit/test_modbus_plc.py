"""The safety PLC's logic, on an injected clock: watchdog trip, refusal, reset."""

from __future__ import annotations

import pytest

from device_profiles import Catalog
from protocols.modbus import Table
from simulators.modbus.unit import ILLEGAL_ADDRESS, SERVER_DEVICE_FAILURE
from simulators.plc import DEFAULT_OUTPUTS, PlcOutput, PlcUnit

WATCHDOG_S = 2.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def plc(clock: Clock) -> PlcUnit:
    return PlcUnit(
        Catalog().profile("plc-safety-mb"), DEFAULT_OUTPUTS, watchdog_s=WATCHDOG_S, clock=clock
    )


def coil(plc: PlcUnit, point_id: str) -> int:
    return plc.specs[point_id].address


def heartbeat(plc: PlcUnit, value: int) -> int | None:
    return plc.write(Table.HOLDING, plc.specs["heartbeat"].address, [value])


def test_outputs_start_at_their_initial_values_and_follow_writes(
    plc: PlcUnit, clock: Clock
) -> None:
    assert plc.output_values == {o.point_id: o.initial for o in DEFAULT_OUTPUTS}
    clock.now += 0.5
    assert plc.write(Table.COIL, coil(plc, "fan_run"), [True]) is None
    assert plc.write(Table.HOLDING, plc.specs["fan_speed_pct"].address, [75]) is None
    assert plc.read(Table.COIL, 0, 4) == [True, True, False, True]
    assert plc.read(Table.HOLDING, 0, 3) == [0, 75, 20]
    assert [(c.point_id, c.value, c.t, c.cause) for c in plc.changes] == [
        ("fan_run", True, 1000.5, "write"),
        ("fan_speed_pct", 75, 1000.5, "write"),
    ]


def test_writing_the_same_value_is_not_a_change(plc: PlcUnit) -> None:
    assert plc.write(Table.COIL, coil(plc, "door_lock"), [True]) is None
    assert plc.changes == []


def test_heartbeat_keeps_the_watchdog_quiet(plc: PlcUnit, clock: Clock) -> None:
    for beat in range(1, 20):
        clock.now += WATCHDOG_S * 0.9
        assert heartbeat(plc, beat) is None
        plc.check_watchdog()
    assert not plc.tripped


def test_an_unchanged_heartbeat_does_not_count(plc: PlcUnit, clock: Clock) -> None:
    heartbeat(plc, 7)
    clock.now += WATCHDOG_S * 0.6
    heartbeat(plc, 7)
    clock.now += WATCHDOG_S * 0.6
    plc.check_watchdog()
    assert plc.tripped


def test_watchdog_trips_every_output_to_its_safe_state(plc: PlcUnit, clock: Clock) -> None:
    clock.now += WATCHDOG_S - 0.001
    plc.check_watchdog()
    assert not plc.tripped
    clock.now += 0.001
    plc.check_watchdog()
    assert plc.tripped
    assert plc.output_values == {o.point_id: o.safe for o in DEFAULT_OUTPUTS}
    assert plc.read(Table.DISCRETE_INPUT, 0, 1) == [True]
    assert plc.read(Table.INPUT, 0, 1) == [1]
    trips = [c for c in plc.changes if c.cause == "trip"]
    # Every default output starts away from its safe state, so each one changes once.
    assert {c.point_id for c in trips} == {o.point_id for o in DEFAULT_OUTPUTS}
    assert {c.t for c in trips} == {clock.now}


def test_tripped_plc_refuses_outputs_until_heartbeat_resumes_and_reset(
    plc: PlcUnit, clock: Clock
) -> None:
    clock.now += WATCHDOG_S
    plc.check_watchdog()
    fan = coil(plc, "fan_run")
    reset = coil(plc, "reset")
    assert plc.write(Table.COIL, fan, [False]) == SERVER_DEVICE_FAILURE
    assert (
        plc.write(Table.HOLDING, plc.specs["damper_open_pct"].address, [0]) == SERVER_DEVICE_FAILURE
    )
    assert plc.write(Table.COIL, reset, [True]) == SERVER_DEVICE_FAILURE  # heartbeat still stale
    assert plc.tripped
    clock.now += 0.1
    assert heartbeat(plc, 1) is None  # the heartbeat is always accepted
    assert plc.write(Table.COIL, fan, [False]) == SERVER_DEVICE_FAILURE  # still needs the reset
    assert plc.write(Table.COIL, reset, [True]) is None
    assert not plc.tripped
    assert plc.read(Table.COIL, reset, 1) == [False]  # reset is momentary
    assert plc.output_values["fan_run"] is True  # outputs stay safe until driven
    assert plc.write(Table.COIL, fan, [False]) is None
    assert plc.output_values["fan_run"] is False


def test_reset_needs_a_live_heartbeat_not_just_one_after_the_trip(
    plc: PlcUnit, clock: Clock
) -> None:
    clock.now += WATCHDOG_S
    plc.check_watchdog()
    clock.now += 0.1
    heartbeat(plc, 1)
    clock.now += WATCHDOG_S  # it stopped again
    assert plc.write(Table.COIL, coil(plc, "reset"), [True]) == SERVER_DEVICE_FAILURE
    assert plc.tripped


def test_a_second_trip_counts(plc: PlcUnit, clock: Clock) -> None:
    for beat in (1, 2):
        clock.now += WATCHDOG_S
        plc.check_watchdog()
        clock.now += 0.1
        heartbeat(plc, beat)
        assert plc.write(Table.COIL, coil(plc, "reset"), [True]) is None
    clock.now += WATCHDOG_S
    plc.check_watchdog()
    assert plc.trip_count == 3
    assert plc.read(Table.INPUT, 0, 1) == [3]


def test_addresses_without_points_are_refused_for_writes(plc: PlcUnit) -> None:
    assert plc.write(Table.COIL, 7, [True]) == ILLEGAL_ADDRESS
    assert plc.write(Table.HOLDING, 3, [1]) == ILLEGAL_ADDRESS
    assert plc.read(Table.COIL, 0, 17) == ILLEGAL_ADDRESS
    assert plc.read(Table.COIL, 4, 11) == [False] * 11  # gaps inside the map read 0


def test_bad_output_config_is_refused() -> None:
    profile = Catalog().profile("plc-safety-mb")
    with pytest.raises(ValueError, match="output 'tripped' must be a coil or holding"):
        PlcUnit(profile, [PlcOutput("tripped", safe=True, initial=False)], watchdog_s=1)
    with pytest.raises(ValueError, match="safe=70000"):
        PlcUnit(profile, [PlcOutput("fan_speed_pct", safe=70000, initial=0)], watchdog_s=1)
    with pytest.raises(ValueError, match="watchdog_s=0"):
        PlcUnit(profile, DEFAULT_OUTPUTS, watchdog_s=0)
