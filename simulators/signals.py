"""Signal models: deterministic functions of time that drive simulated points.

Each model is built from its data spec (``device_profiles.signals``) and answers ``value(t)``
for any ``t`` (seconds since the simulation started) in any order: noise is a hash of
(seed, point, time step), not a stream of random draws, so the same seed gives the same value at
the same instant however often or rarely the device is polled.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Protocol

from device_profiles.signals import (
    DayProfile,
    Drift,
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

NOISE_STEP_S = 0.1  # noise changes ten times a second
_MAX_EXPONENT = 700.0  # math.exp(710) overflows a float
_MASK = (1 << 64) - 1
# NAMUR NE 43 failure currents used by the loop_fault model (hse-standards.md §8.2 [Q7]).
NE43_FAIL_LOW_MA = 3.5
NE43_FAIL_HIGH_MA = 21.5


def _mix(x: int) -> int:
    """splitmix64 finalizer: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def stream_id(seed: int, *names: str) -> int:
    digest = hashlib.blake2b("/".join(names).encode(), digest_size=8).digest()
    return _mix(seed ^ int.from_bytes(digest, "big"))


def uniform(stream: int, step: int) -> float:
    """A uniform number in (0, 1) for (stream, step)."""
    return ((_mix(stream ^ (step & _MASK)) >> 11) + 0.5) / float(1 << 53)


def gauss(stream: int, step: int) -> float:
    """A standard normal number for (stream, step) (Box-Muller on two hashed uniforms)."""
    u1 = uniform(stream, 2 * step)
    u2 = uniform(stream, 2 * step + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class Signal(Protocol):
    def value(self, t: float) -> float: ...


@dataclass(frozen=True)
class _Noise:
    stream: int
    sigma: float

    def at(self, t: float) -> float:
        if self.sigma == 0:
            return 0.0
        return self.sigma * gauss(self.stream, math.floor(t / NOISE_STEP_S))


@dataclass(frozen=True)
class SteadySignal:
    base: float
    noise: _Noise

    def value(self, t: float) -> float:
        return self.base + self.noise.at(t)


@dataclass(frozen=True)
class DriftSignal:
    start: float
    t0: float
    rate_per_s: float
    noise: _Noise

    def value(self, t: float) -> float:
        return self.start + self.rate_per_s * (t - self.t0) + self.noise.at(t)


@dataclass(frozen=True)
class RampSignal:
    start: float
    to: float
    t0: float
    over_s: float
    noise: _Noise

    def value(self, t: float) -> float:
        frac = min(max((t - self.t0) / self.over_s, 0.0), 1.0)
        return self.start + (self.to - self.start) * frac + self.noise.at(t)


@dataclass(frozen=True)
class ConstantSignal:
    level: float

    def value(self, t: float) -> float:
        return self.level


@dataclass(frozen=True)
class StepSignal:
    to: float
    noise: _Noise

    def value(self, t: float) -> float:
        return self.to + self.noise.at(t)


@dataclass(frozen=True)
class SpikeSignal:
    base: float
    noise: _Noise
    magnitude: float
    probability_per_step: float
    stream: int

    def value(self, t: float) -> float:
        step = math.floor(t / NOISE_STEP_S)
        spike = uniform(self.stream ^ 0x5A5A, step) < self.probability_per_step
        return self.base + self.noise.at(t) + (self.magnitude if spike else 0.0)


@dataclass(frozen=True)
class GrowthSignal:
    start: float
    t0: float
    rate_per_s: float
    noise: _Noise

    def value(self, t: float) -> float:
        # Left running long enough, exp() overflows; long before that the device's measuring
        # range has clamped the value, so capping the exponent changes nothing it reports.
        exponent = min(self.rate_per_s * (t - self.t0), _MAX_EXPONENT)
        return self.start * math.exp(exponent) + self.noise.at(t)


@dataclass(frozen=True)
class DayProfileSignal:
    night: float
    day: float
    shift_start_h: float
    shift_end_h: float
    t0_wall: float  # POSIX time at t = 0, so "day" follows the wall clock (UTC)
    noise: _Noise

    def value(self, t: float) -> float:
        hour = ((self.t0_wall + t) % 86400.0) / 3600.0
        on_shift = self.shift_start_h <= hour < self.shift_end_h
        return (self.day if on_shift else self.night) + self.noise.at(t)


@dataclass(frozen=True)
class EpisodeSignal:
    base: float
    peak: float
    every_s: float
    duration_s: float
    t0: float
    noise: _Noise

    def value(self, t: float) -> float:
        phase = (t - self.t0) % self.every_s
        level = self.peak if phase < self.duration_s else self.base
        return level + self.noise.at(t)


def is_step_constant(signal: Signal) -> bool:
    """True when ``signal.value(t)`` only changes at noise-step boundaries (safe to compute once a step)."""
    return isinstance(signal, SteadySignal | StepSignal | ConstantSignal | SpikeSignal)


def build_signal(
    spec: SignalSpec,
    *,
    t0: float,
    current: float,
    stream: int,
    t0_wall: float = 0.0,
    loop_fault_ma: tuple[float, float] = (NE43_FAIL_LOW_MA, NE43_FAIL_HIGH_MA),
) -> Signal:
    """The signal for ``spec`` starting at ``t0``, continuing from ``current`` where it ramps or drifts.

    A ``loop_fault`` signal returns a loop *current* (mA), not an engineering value; the caller
    (``SimPoint``) writes it to the wire as such.
    """
    noise = _Noise(stream, getattr(spec, "noise", 0.0))
    match spec:
        case Steady():
            return SteadySignal(spec.base, noise)
        case Drift():
            return DriftSignal(current, t0, spec.rate_per_h / 3600.0, noise)
        case Ramp():
            return RampSignal(current, spec.to, t0, spec.over_s, noise)
        case Step():
            return StepSignal(spec.to, noise)
        case Stuck():
            return ConstantSignal(current if spec.value is None else spec.value)
        case Spikes():
            per_step = spec.rate_per_min / 60.0 * NOISE_STEP_S
            return SpikeSignal(spec.base, noise, spec.magnitude, per_step, stream)
        case LoopFault():
            default = loop_fault_ma[0] if spec.direction == "low" else loop_fault_ma[1]
            return ConstantSignal(spec.current_ma if spec.current_ma is not None else default)
        case Growth():
            rate = spec.rate_per_day / 86400.0 * spec.time_scale
            return GrowthSignal(spec.start, t0, rate, noise)
        case DayProfile():
            return DayProfileSignal(
                spec.night, spec.day, spec.shift_start_h, spec.shift_end_h, t0_wall, noise
            )
        case Episodes():
            return EpisodeSignal(spec.base, spec.peak, spec.every_s, spec.duration_s, t0, noise)
    raise TypeError(f"no signal model for {spec!r}")
