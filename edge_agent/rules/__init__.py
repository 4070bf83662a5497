"""The edge agent's local safety engine: ISA-18.2 limit alarms, exposure (STEL, TWA, noise dose),
sensor faults, anomalies and vibration trend prediction, as pure rules.

    engine = RuleEngine(points, load_rules_config(plant.config.rules), plant.limit_set,
                        plant_id=plant.config.plant_id)
    events = engine.process(readings, now)      # on every batch of normalized readings
    events += engine.tick(now)                  # about once a second
    engine.command(AlarmAction.ACK, alarm_id="p/gd-1/h2s:hh", actor="op.li", now=now)
    engine.alarms(); engine.exposure(); engine.faults(); engine.statistics()

Errors (``errors.py``): ``RulesError`` > ``RulesConfigError`` | ``UnknownAlarmError`` |
``AlarmActionError``; none is retriable.
"""

from .alarm import AlarmAction, AlarmState, Transition
from .config import (
    AlarmOverride,
    AlarmSettings,
    AnomalySettings,
    ExposureSettings,
    FaultSettings,
    MachineClass,
    NoiseSettings,
    PointRules,
    RulesConfig,
    ShiftConfig,
    TrendSettings,
    load_rules_config,
)
from .engine import RuleEngine
from .errors import AlarmActionError, RulesConfigError, RulesError, UnknownAlarmError
from .points import RulePoint, rule_point
from .snapshots import (
    AlarmSnapshot,
    AnomalySnapshot,
    ExposureFigure,
    ExposureSnapshot,
    FaultSnapshot,
    PredictionSnapshot,
    RulesStats,
)

__all__ = [
    "AlarmAction",
    "AlarmActionError",
    "AlarmOverride",
    "AlarmSettings",
    "AlarmSnapshot",
    "AlarmState",
    "AnomalySettings",
    "AnomalySnapshot",
    "ExposureFigure",
    "ExposureSettings",
    "ExposureSnapshot",
    "FaultSettings",
    "FaultSnapshot",
    "MachineClass",
    "NoiseSettings",
    "PointRules",
    "PredictionSnapshot",
    "RuleEngine",
    "RulePoint",
    "RulesConfig",
    "RulesConfigError",
    "RulesError",
    "RulesStats",
    "ShiftConfig",
    "Transition",
    "TrendSettings",
    "UnknownAlarmError",
    "load_rules_config",
    "rule_point",
]
