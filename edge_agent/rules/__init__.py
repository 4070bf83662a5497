"""The edge agent's local safety engine: ISA-18.2 limit alarms, exposure (STEL, TWA, noise dose),
sensor faults, anomalies and vibration trend prediction, as pure rules.

    engine = RuleEngine(rule_points(plant.points()), load_rules_config(plant.config.rules),
                        plant.limit_set, plant_id=plant.config.plant_id)
    events = engine.process(readings, now)      # on every batch of normalized readings
    events += engine.tick(now)                  # about once a second
    engine.command(AlarmAction.ACK, alarm_id="p/gd-1/h2s:hh", actor="op.li", now=now)
    engine.alarms(); engine.exposure(); engine.faults(); engine.statistics()

Alarm ids are ``<point id>:<name>``: ``hh h l ll roc roc_rise roc_fall`` (``limit.*`` events),
``ceiling stel twa twa_projection noise_dose noise_action noise_dose_projection``
(``exposure.*`` events). A plant config's ``rules:`` section, every key optional::

    rules:
      points:
        gd-north/h2s:                  # device/point, or the full plant/device/point
          alarms:
            h: {value: 5.0, priority: high, source: "site rule 12"}
            on_delay_s: 2
            disable: [hh]
        pump-1/vib:
          machine: {group: 1, foundation: flexible}
      shift: {starts: ["07:00", "19:00"], length_h: 12, timezone: Asia/Shanghai}
      alarms: {chattering_count: 3, chattering_window_s: 60, flood_count: 10}
      exposure: {noise: {regime: iso9612}}
      faults: {comm_loss_intervals: 3}
      anomaly: {k: 6, raise_after: 3}
      trend: {horizon_s: 604800}

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
from .points import RulePoint, rule_point, rule_points
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
    "rule_points",
]
