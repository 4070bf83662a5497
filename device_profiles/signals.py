"""Signal models and scenario scripts, as data: what a simulated point does over time.

Simulators implement these (``simulators.signals``); profiles name a default per point
(``simulate:``) and scenario packs change them at given times. Every model is deterministic for
a given seed.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from .field_errors import FieldValueError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Steady(_Model):
    """``base`` plus Gaussian noise of standard deviation ``noise``."""

    model: Literal["steady"] = "steady"
    base: float = 0.0
    noise: float = Field(0.0, ge=0)


class Drift(_Model):
    """Starts at the current value and moves ``rate_per_h`` per hour (sensor drift)."""

    model: Literal["drift"] = "drift"
    rate_per_h: float
    noise: float = Field(0.0, ge=0)


class Ramp(_Model):
    """Moves linearly from the current value to ``to`` over ``over_s`` seconds, then holds (a leak)."""

    model: Literal["ramp"] = "ramp"
    to: float
    over_s: float = Field(gt=0)
    noise: float = Field(0.0, ge=0)


class Step(_Model):
    """Jumps to ``to`` at once and holds."""

    model: Literal["step"] = "step"
    to: float
    noise: float = Field(0.0, ge=0)


class Stuck(_Model):
    """Freezes at the current value (or ``value``), bit for bit: a flatlined sensor."""

    model: Literal["stuck"] = "stuck"
    value: float | None = None


class Spikes(_Model):
    """``base`` with noise, plus isolated spikes of ``magnitude`` with ``rate_per_min`` on average."""

    model: Literal["spikes"] = "spikes"
    base: float = 0.0
    noise: float = Field(0.0, ge=0)
    magnitude: float
    rate_per_min: float = Field(1.0, gt=0)


class LoopFault(_Model):
    """Drives a 4-20 mA loop to a NAMUR NE 43 failure current (3.5 mA low, 21.5 mA high)."""

    model: Literal["loop_fault"] = "loop_fault"
    direction: Literal["low", "high"] = "low"
    current_ma: float | None = None


class Growth(_Model):
    """Exponential growth from ``start`` by ``rate_per_day`` (bearing wear on vibration).

    ``time_scale`` compresses simulated days into real seconds for demos (86400 = a day a second).
    """

    model: Literal["growth"] = "growth"
    start: float
    rate_per_day: float
    time_scale: float = Field(1.0, gt=0)
    noise: float = Field(0.0, ge=0)


class DayProfile(_Model):
    """A working-day curve: ``night`` off shift, ``day`` on shift, with noise (noise, dust)."""

    model: Literal["day_profile"] = "day_profile"
    night: float
    day: float
    shift_start_h: float = Field(8.0, ge=0, lt=24)
    shift_end_h: float = Field(17.0, gt=0, le=24)
    noise: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _shift_order(self) -> DayProfile:
        if self.shift_end_h <= self.shift_start_h:
            raise ValueError(
                f"shift_end_h={self.shift_end_h} must be after shift_start_h={self.shift_start_h}"
            )
        return self


class Episodes(_Model):
    """Background level with episodes of ``peak`` lasting ``duration_s`` every ``every_s`` (dust)."""

    model: Literal["episodes"] = "episodes"
    base: float
    peak: float
    every_s: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    noise: float = Field(0.0, ge=0)


SignalSpec = Annotated[
    Steady | Drift | Ramp | Step | Stuck | Spikes | LoopFault | Growth | DayProfile | Episodes,
    Field(discriminator="model"),
]


class SignalStep(_Model):
    """At ``at_s`` seconds into the scenario, point ``point`` of device ``device`` follows ``signal``."""

    at_s: float = Field(ge=0)
    device: str
    point: str
    signal: SignalSpec


class DeviceStep(_Model):
    """At ``at_s``, device ``device`` goes ``offline`` (stops answering) or comes back ``online``."""

    at_s: float = Field(ge=0)
    device: str
    action: Literal["offline", "online"]


def _step_kind(step: Any) -> str:
    # A step with `action` is a device step; any other is a signal step. Choosing the shape
    # first means a typo is reported once, against the shape the author meant.
    # (The tags must not be field names: the loader walks error locations through the data.)
    if isinstance(step, dict):
        return "device-step" if "action" in step else "signal-step"
    return "device-step" if isinstance(step, DeviceStep) else "signal-step"


ScenarioStep = Annotated[
    Annotated[SignalStep, Tag("signal-step")] | Annotated[DeviceStep, Tag("device-step")],
    Discriminator(_step_kind),
]


class Scenario(_Model):
    """A scripted sequence of signal changes, e.g. a leak followed by a stuck sensor."""

    schema_version: Literal[1] = 1
    id: str
    description: str = ""
    seed: int = 0
    steps: list[ScenarioStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Scenario:
        for i, (before, step) in enumerate(itertools.pairwise(self.steps), start=1):
            if step.at_s < before.at_s:
                raise FieldValueError.at(
                    ("steps", i, "at_s"),
                    step.at_s,
                    f"steps must be in order of at_s; steps[{i - 1}] is at {before.at_s:g}",
                )
        return self
