"""Device profiles, exposure limit sets and scenario packs: data files, their schema and loader.

A profile describes a device model (register map, node ids or topics, types, scaling, units,
quantity, range, default alarm limits with their sources). A plant's ``DeviceEntry`` names a
profile by id; :func:`resolve_device` turns the pair into driver point specs.
"""

from .limits import LimitSet, LimitValue, NoiseLimits, NoiseRegime, PeakAllowance, SubstanceLimits
from .loader import Catalog, FieldProblem, ProfileError, load_limit_set, load_profile, load_scenario
from .quantities import QUANTITIES, Quantity, UnitError, canonical_unit, conversion
from .resolve import ResolvedDevice, ResolvedPoint, driver_spec, resolve_device
from .schema import (
    AlarmDefaults,
    AlarmPriority,
    CurrentLoop,
    DeviceEntry,
    DeviceProfile,
    Limit,
    PointOverride,
    PointProfile,
    Protocol,
)
from .signals import Scenario, SignalSpec

__all__ = [
    "QUANTITIES",
    "AlarmDefaults",
    "AlarmPriority",
    "Catalog",
    "CurrentLoop",
    "DeviceEntry",
    "DeviceProfile",
    "FieldProblem",
    "Limit",
    "LimitSet",
    "LimitValue",
    "NoiseLimits",
    "NoiseRegime",
    "PeakAllowance",
    "PointOverride",
    "PointProfile",
    "ProfileError",
    "Protocol",
    "Quantity",
    "ResolvedDevice",
    "ResolvedPoint",
    "Scenario",
    "SignalSpec",
    "SubstanceLimits",
    "UnitError",
    "canonical_unit",
    "conversion",
    "driver_spec",
    "load_limit_set",
    "load_profile",
    "load_scenario",
    "resolve_device",
]
