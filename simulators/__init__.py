"""Simulated plant devices and safety PLCs, driven by signal models and scenario packs.

``SimDevice`` answers what a device would put on the wire now; ``ScenarioRunner`` changes its
signals on a script; ``plant`` groups a plant config's devices into protocol servers and runs
them (``hse-sim run``). The protocol servers themselves are imported lazily by ``plant``.
"""

from .device import SimDevice, SimPoint
from .plant import (
    Endpoint,
    PlantPlan,
    PlantSimulation,
    ServerKind,
    ServerPlan,
    SimPlant,
    SimServer,
    SimulationError,
    SimulationSettings,
    build_devices,
    load_plant,
    plan_servers,
)
from .scenario import (
    Clock,
    MonotonicClock,
    RunnerStatistics,
    ScenarioError,
    ScenarioRunner,
    VirtualClock,
    check_scenario,
)
from .signals import Signal, build_signal

__all__ = [
    "Clock",
    "Endpoint",
    "MonotonicClock",
    "PlantPlan",
    "PlantSimulation",
    "RunnerStatistics",
    "ScenarioError",
    "ScenarioRunner",
    "ServerKind",
    "ServerPlan",
    "Signal",
    "SimDevice",
    "SimPlant",
    "SimPoint",
    "SimServer",
    "SimulationError",
    "SimulationSettings",
    "VirtualClock",
    "build_devices",
    "build_signal",
    "check_scenario",
    "load_plant",
    "plan_servers",
]
