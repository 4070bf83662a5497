"""A simulated device: a profile's points, each driven by a signal model, switchable off line.

Protocol servers (Modbus, OPC UA, MQTT) ask ``SimDevice.wire_value(point_id)`` for what the device
would put on the wire *now*: the engineering value inverted through the profile's scaling, or a
loop current in mA for current-loop points. Scenarios change signals with ``set_signal``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from device_profiles import DeviceEntry, DeviceProfile, PointProfile
from device_profiles.signals import LoopFault, SignalSpec, Steady

from .signals import NOISE_STEP_S, Signal, build_signal, is_step_constant, stream_id


@dataclass
class SimPoint:
    profile_point: PointProfile
    signal: Signal
    spec: SignalSpec
    is_loop_fault: bool = False
    last_engineering: float = 0.0
    # Signals that only change at noise steps are computed once per step (exact, and it keeps a
    # 125-register read of a simulator close to the cost of serving fixed registers).
    step_constant: bool = False
    memo_step: int = -1
    memo_raw: float = 0.0

    @property
    def id(self) -> str:
        return self.profile_point.id


@dataclass
class SimDevice:
    """One simulated device instance. Thread-safe: servers may run in other threads."""

    entry: DeviceEntry
    profile: DeviceProfile
    seed: int = 0
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    online: bool = True
    points: dict[str, SimPoint] = field(default_factory=dict)
    t_start: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.t_start = self.clock()
        t0_wall = self.wall_clock()
        for p in self.profile.points:
            spec = p.simulate or Steady(base=p.range[0] if p.range else 0.0)
            stream = stream_id(self.seed, self.entry.id, p.id)
            signal = build_signal(spec, t0=0.0, current=0.0, stream=stream, t0_wall=t0_wall)
            self.points[p.id] = SimPoint(
                p, signal, spec, isinstance(spec, LoopFault), step_constant=is_step_constant(signal)
            )
        self._t0_wall = t0_wall

    @property
    def id(self) -> str:
        return self.entry.id

    def now(self) -> float:
        """Seconds since the device started."""
        return self.clock() - self.t_start

    def engineering_value(self, point_id: str, t: float | None = None) -> float:
        """The physical value the point measures at ``t`` (clamped to the measuring range)."""
        point = self.points[point_id]
        t = self.now() if t is None else t
        if point.is_loop_fault:
            return point.last_engineering
        value = point.signal.value(t)
        rng = point.profile_point.range
        if rng is not None:
            value = min(max(value, rng[0]), rng[1])
        point.last_engineering = value
        return value

    def wire_value(self, point_id: str, t: float | None = None) -> float:
        """What the device reports on the wire for ``point_id``: pre-scaling value or loop mA."""
        with self._lock:
            point = self.points[point_id]
            t = self.now() if t is None else t
            if point.step_constant:
                step = math.floor(t / NOISE_STEP_S)
                if step == point.memo_step:
                    return point.memo_raw
                raw = self._wire_value(point, t)
                point.memo_step, point.memo_raw = step, raw
                return raw
            return self._wire_value(point, t)

    def wire_values(self, point_ids: Sequence[str], t: float) -> list[float]:
        """``wire_value`` of several points at one instant, under one lock (a block read)."""
        out = []
        points = self.points
        step = math.floor(t / NOISE_STEP_S)
        with self._lock:
            for point_id in point_ids:
                point = points[point_id]
                if point.step_constant and point.memo_step == step:
                    out.append(point.memo_raw)
                    continue
                raw = self._wire_value(point, t)
                if point.step_constant:
                    point.memo_step, point.memo_raw = step, raw
                out.append(raw)
        return out

    def _wire_value(self, point: SimPoint, t: float) -> float:
        pp = point.profile_point
        point_id = point.id
        if point.is_loop_fault:
            value = point.signal.value(t)
        else:
            value = self.engineering_value(point_id, t)
        if pp.loop is not None and pp.range is not None and not point.is_loop_fault:
            lo, hi = pp.range
            value = pp.loop.low_ma + (value - lo) / (hi - lo) * (pp.loop.high_ma - pp.loop.low_ma)
        scale, offset = _scale_offset(pp)
        raw = (value - offset) / scale
        return raw if math.isfinite(raw) else 0.0

    def set_signal(self, point_id: str, spec: SignalSpec) -> None:
        """Switch a point to a new signal model now, continuing from its current value."""
        with self._lock:
            point = self.points[point_id]
            t = self.now()
            current = (
                point.last_engineering
                if point.is_loop_fault
                else self.engineering_value(point_id, t)
            )
            stream = stream_id(self.seed, self.entry.id, point_id, f"{t:.3f}")
            point.signal = build_signal(
                spec, t0=t, current=current, stream=stream, t0_wall=self._t0_wall
            )
            point.spec = spec
            point.is_loop_fault = isinstance(spec, LoopFault)
            point.step_constant = is_step_constant(point.signal)
            point.memo_step = -1

    def set_online(self, online: bool) -> None:
        self.online = online

    def text_value(self, point_id: str) -> str:
        """What a text point (a Modbus ``string``, e.g. the serial number) reports.

        The device entry's ``serial`` if the plant gives one, else a stable made-up serial
        ``SIM`` + hex digits derived from the seed and device id, cut to the register space.
        """
        pp = self.points[point_id].profile_point
        text = self.entry.serial or f"SIM{stream_id(self.seed, self.entry.id, 'serial'):016X}"
        width = 2 * pp.modbus.length if pp.modbus is not None and pp.modbus.length else len(text)
        return text[:width]


def _scale_offset(point: PointProfile) -> tuple[float, float]:
    for addr in (point.modbus, point.opcua, point.mqtt):
        if addr is not None:
            return addr.scale, addr.offset
    return 1.0, 0.0
