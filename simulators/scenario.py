"""Play a scenario pack against running simulated devices.

A :class:`ScenarioRunner` applies each step of a ``device_profiles.Scenario`` at its time
(seconds after :meth:`ScenarioRunner.run` starts): a point switches to a new signal model, or a
device goes off line / comes back. It promises:

- every device and point a step names exists, and a ``loop_fault`` step targets a current-loop
  point; otherwise :class:`ScenarioError` is raised by the constructor, before anything runs;
- each step is applied exactly once, in file order, never before its time;
- ``run()`` is cancellable at any await and can be called only once;
- time comes from an injected :class:`Clock`, so tests run scenarios in virtual time
  (:class:`VirtualClock`) and the wall clock is used only by :class:`MonotonicClock`.

Errors::

    ScenarioError (ValueError)   the scenario does not fit the devices it is run against
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog

from device_profiles.signals import DeviceStep, LoopFault, Scenario, SignalStep

from .device import SimDevice

__all__ = [
    "Clock",
    "MonotonicClock",
    "RunnerStatistics",
    "ScenarioError",
    "ScenarioRunner",
    "VirtualClock",
    "check_scenario",
]

log = structlog.get_logger(__name__)


class ScenarioError(ValueError):
    """A scenario names a device or point that is not there, or a step that cannot apply."""


class Clock(Protocol):
    """Where a runner gets its time: ``now()`` in seconds, and a way to wait for a deadline."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class MonotonicClock:
    """Real time: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """Time that moves only when a test says so.

    ``now`` is a plain number; ``advance``/``advance_to`` move it and wake every sleeper whose
    deadline has come, letting them run before returning. Pass ``clock.now`` as a ``SimDevice``
    clock so devices and runner share the same time.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self._now + seconds)

    async def advance_to(self, t: float) -> None:
        """Move time to ``t``, waking sleepers in deadline order; each runs before the next wakes."""
        if t < self._now:
            raise ValueError(f"virtual time cannot go back from {self._now} to {t}")
        while self._sleepers and self._sleepers[0][0] <= t:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._now = t
        await _settle()

    @property
    def sleepers(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())


async def _settle() -> None:
    # A woken task runs up to its next await within a few loop iterations; a scenario step does
    # no I/O, so three turns of the loop are more than it needs.
    for _ in range(3):
        await asyncio.sleep(0)


@dataclass(frozen=True)
class RunnerStatistics:
    """Where a runner is: steps applied of the total, and when the next one is due."""

    scenario_id: str
    steps_total: int
    steps_applied: int
    next_at_s: float | None
    started: bool
    finished: bool


def check_scenario(scenario: Scenario, devices: Mapping[str, SimDevice]) -> None:
    """Raise :class:`ScenarioError` listing every step that does not fit ``devices``."""
    problems: list[str] = []
    for i, step in enumerate(scenario.steps):
        where = f"steps[{i}] (at_s={step.at_s:g})"
        device = devices.get(step.device)
        if device is None:
            problems.append(
                f"{where}: unknown device {step.device!r}; devices: {', '.join(sorted(devices))}"
            )
            continue
        if isinstance(step, SignalStep):
            point = device.points.get(step.point)
            if point is None:
                problems.append(
                    f"{where}: device {step.device!r} has no point {step.point!r}; "
                    f"points: {', '.join(device.points)}"
                )
            elif isinstance(step.signal, LoopFault) and point.profile_point.loop is None:
                problems.append(
                    f"{where}: loop_fault on {step.device}/{step.point}, which is not a "
                    "4-20 mA loop point (its profile has no 'loop:')"
                )
    if problems:
        raise ScenarioError(
            f"scenario {scenario.id!r} does not fit the plant:\n  " + "\n  ".join(problems)
        )


class ScenarioRunner:
    """Applies a scenario's steps to simulated devices at their times (see module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        devices: Mapping[str, SimDevice],
        clock: Clock | None = None,
    ) -> None:
        check_scenario(scenario, devices)
        self.scenario = scenario
        self.devices = devices
        self.clock: Clock = clock or MonotonicClock()
        self._applied = 0
        self._started = False
        self._finished = False
        self._log = log.bind(scenario=scenario.id)

    async def run(self) -> None:
        """Apply every step at its time, then return. Cancelling stops before the next step."""
        if self._started:
            raise RuntimeError(f"scenario {self.scenario.id!r} has already been run")
        self._started = True
        t0 = self.clock.now()
        self._log.info("scenario started", steps=len(self.scenario.steps))
        for step in self.scenario.steps:
            await self.clock.sleep_until(t0 + step.at_s)
            self._apply(step)
            self._applied += 1
        self._finished = True
        self._log.info("scenario finished", steps=self._applied)

    def _apply(self, step: SignalStep | DeviceStep) -> None:
        device = self.devices[step.device]
        if isinstance(step, DeviceStep):
            device.set_online(step.action == "online")
            self._log.info("device " + step.action, at_s=step.at_s, device=step.device)
            return
        device.set_signal(step.point, step.signal)
        self._log.info(
            "signal changed",
            at_s=step.at_s,
            device=step.device,
            point=step.point,
            model=step.signal.model,
        )

    def statistics(self) -> RunnerStatistics:
        steps = self.scenario.steps
        pending = steps[self._applied :]
        return RunnerStatistics(
            scenario_id=self.scenario.id,
            steps_total=len(steps),
            steps_applied=self._applied,
            next_at_s=pending[0].at_s if pending else None,
            started=self._started,
            finished=self._finished,
        )
