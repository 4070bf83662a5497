"""Signal models: deterministic for a seed, and each model does what its spec says."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles import Catalog, DeviceEntry
from device_profiles.signals import (
    Episodes,
    Growth,
    LoopFault,
    Ramp,
    SignalSpec,
    Spikes,
    Steady,
    Step,
    Stuck,
)
from simulators.device import SimDevice
from simulators.signals import NE43_FAIL_HIGH_MA, NE43_FAIL_LOW_MA, build_signal, stream_id

times = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=30)
noisy_specs: list[SignalSpec] = [
    Steady(base=5.0, noise=0.5),
    Spikes(base=100, noise=2, magnitude=20, rate_per_min=30),
    Episodes(base=40, peak=150, every_s=300, duration_s=60, noise=3),
    Growth(start=1.2, rate_per_day=0.02, time_scale=30000, noise=0.05),
    Ramp(to=20, over_s=60, noise=0.1),
]


@given(ts=times, spec_index=st.integers(0, len(noisy_specs) - 1), seed=st.integers(0, 2**32))
def test_value_at_t_does_not_depend_on_call_order(
    ts: list[float], spec_index: int, seed: int
) -> None:
    spec = noisy_specs[spec_index]
    stream = stream_id(seed, "dev", "pt")
    forward = build_signal(spec, t0=0.0, current=1.0, stream=stream)
    backward = build_signal(spec, t0=0.0, current=1.0, stream=stream)
    first = [forward.value(t) for t in ts]
    second = [backward.value(t) for t in reversed(ts)][::-1]
    assert first == second  # bit for bit, however often or in what order it is asked


def _h2s_device(seed: int) -> SimDevice:
    profile = Catalog().profile("gd-h2s-mb")
    entry = DeviceEntry(id="gas-1", profile=profile.id, url="modbus+tcp://127.0.0.1:1")
    return SimDevice(entry=entry, profile=profile, seed=seed, clock=lambda: 0.0)


@settings(max_examples=30)
@given(ts=times)
def test_two_devices_with_one_seed_report_the_same_wire_values(ts: list[float]) -> None:
    a, b = _h2s_device(seed=5), _h2s_device(seed=5)
    wire_a = {t: a.wire_value("h2s", t) for t in ts}
    wire_b = {t: b.wire_value("h2s", t) for t in reversed(ts)}
    assert wire_a == wire_b


def test_different_seeds_give_different_noise() -> None:
    a, b = _h2s_device(seed=1), _h2s_device(seed=2)
    samples = [i * 0.1 for i in range(100)]
    assert [a.wire_value("h2s", t) for t in samples] != [b.wire_value("h2s", t) for t in samples]


def test_noise_has_the_asked_mean_and_spread() -> None:
    signal = build_signal(Steady(base=5.0, noise=0.5), t0=0, current=0, stream=stream_id(3, "x"))
    values = [signal.value(i * 0.1) for i in range(20000)]  # one value per noise step
    assert statistics.fmean(values) == pytest.approx(5.0, abs=0.02)
    assert statistics.pstdev(values) == pytest.approx(0.5, rel=0.05)


@given(
    start=st.floats(-100, 100),
    to=st.floats(-100, 100),
    t0=st.floats(0, 1e4),
    over_s=st.floats(0.1, 1e4),
)
def test_ramp_goes_from_current_to_target_monotonically_then_holds(
    start: float, to: float, t0: float, over_s: float
) -> None:
    ramp = build_signal(Ramp(to=to, over_s=over_s), t0=t0, current=start, stream=1)
    close = {"abs": 1e-6}  # t0 + over_s - t0 is not over_s exactly in floating point
    assert ramp.value(t0) == pytest.approx(start, **close)
    assert ramp.value(t0 + over_s) == pytest.approx(to, **close)
    assert ramp.value(t0 + 10 * over_s + 1) == pytest.approx(to, **close)
    assert ramp.value(t0 - 1) == pytest.approx(start, **close)  # before its start it has not moved
    steps = [ramp.value(t0 + over_s * k / 20) for k in range(21)]
    direction = 1 if to >= start else -1
    assert all(direction * (b - a) >= -1e-9 for a, b in itertools.pairwise(steps))
    assert ramp.value(t0 + over_s / 2) == pytest.approx((start + to) / 2, abs=1e-6)


@given(to=st.floats(-1e3, 1e3), t=st.floats(0, 1e5))
def test_step_is_at_its_target_at_once(to: float, t: float) -> None:
    assert build_signal(Step(to=to), t0=t, current=0, stream=1).value(t) == to


def test_stuck_freezes_the_current_value_bit_for_bit() -> None:
    clock = [0.0]
    device = _h2s_device(seed=9)
    device.clock = lambda: clock[0]
    clock[0] = 12.34
    before = device.engineering_value("h2s")
    device.set_signal("h2s", Stuck())
    wires = set()
    for k in range(200):
        clock[0] = 12.34 + k * 0.37
        assert device.engineering_value("h2s") == before
        wires.add(device.wire_value("h2s"))
    assert len(wires) == 1
    device.set_signal("h2s", Stuck(value=20.9))
    assert device.engineering_value("h2s") == 20.9


@pytest.mark.parametrize(
    ("spec", "expected_ma"),
    [
        (LoopFault(direction="low"), NE43_FAIL_LOW_MA),
        (LoopFault(direction="high"), NE43_FAIL_HIGH_MA),
        (LoopFault(direction="low", current_ma=0.0), 0.0),
    ],
)
def test_loop_fault_puts_a_namur_failure_current_on_the_wire(
    spec: LoopFault, expected_ma: float
) -> None:
    device = _h2s_device(seed=1)
    loop = device.profile.point("loop_ma").loop
    assert loop is not None
    healthy_ma = device.wire_value("loop_ma", 1.0) * 0.001  # register in µA, scale 0.001
    assert loop.valid_low_ma <= healthy_ma <= loop.valid_high_ma
    device.set_signal("loop_ma", spec)
    for t in (2.0, 50.0, 5000.0):
        current_ma = device.wire_value("loop_ma", t) * 0.001
        assert current_ma == pytest.approx(expected_ma)
    # NE 43 [Q7]: at or below 3.6 mA / at or above 21.0 mA is a failure
    faulty = current_ma <= loop.fault_low_ma or current_ma >= loop.fault_high_ma
    assert faulty
    device.set_signal("loop_ma", Steady(base=10.0))
    assert device.engineering_value("loop_ma", 6000.0) == pytest.approx(10.0)
    assert device.wire_value("loop_ma", 6000.0) * 0.001 == pytest.approx(4 + 16 * 10 / 100)


@given(
    start=st.floats(0.1, 10),
    rate_per_day=st.floats(0.001, 1),
    time_scale=st.floats(1, 1e5),
)
def test_growth_doubles_after_ln2_over_its_rate(
    start: float, rate_per_day: float, time_scale: float
) -> None:
    spec = Growth(start=start, rate_per_day=rate_per_day, time_scale=time_scale)
    signal = build_signal(spec, t0=10.0, current=0, stream=1)
    # simulated days per real second = time_scale / 86400
    doubling_s = math.log(2) / rate_per_day * 86400 / time_scale
    assert signal.value(10.0) == pytest.approx(start)
    assert signal.value(10.0 + doubling_s) == pytest.approx(2 * start)
    assert signal.value(10.0 + 2 * doubling_s) == pytest.approx(4 * start)


def test_episodes_repeat_with_their_period_and_length() -> None:
    spec = Episodes(base=40, peak=150, every_s=300, duration_s=60)
    signal = build_signal(spec, t0=100.0, current=0, stream=1)
    for cycle in range(3):
        start = 100.0 + 300 * cycle
        assert signal.value(start) == 150
        assert signal.value(start + 59.9) == 150
        assert signal.value(start + 60.0) == 40
        assert signal.value(start + 299.9) == 40


def test_spikes_come_at_about_their_rate() -> None:
    spec = Spikes(base=100, magnitude=20, rate_per_min=6)  # one every 10 s on average
    signal = build_signal(spec, t0=0, current=0, stream=stream_id(4, "spikes"))
    hours = 10
    steps = [k * 0.1 for k in range(hours * 36000)]
    spikes = sum(1 for t in steps if signal.value(t) > 110)
    expected = 6 * 60 * hours
    assert spikes == pytest.approx(expected, rel=0.1)
    assert {signal.value(t) for t in steps} == {100, 120}
