"""Interlock configuration: what may be written to which safety PLC, and when.

    interlocks:
      outputs:                          # the allowlist: nothing else is ever written
        - {plc: plc-1, point: fan_zone_a, safe: 1}
        - {plc: plc-1, point: door_lock_zone_a, safe: 1}
      heartbeat: {plc: plc-1, point: heartbeat, interval_s: 1.0}
      min_write_interval_s: 0.5         # per output, except moves towards the safe value
      rules:
        - id: vent-zone-a
          when: {any: [{alarm: "plant-1/gas-north/h2s:hh"}, {fault: "plant-1/gas-north/h2s"}]}
          then: {plc: plc-1, point: fan_zone_a, value: 1}
          otherwise: 0                  # value while the condition is false (omit: leave as is)
          on_input_loss: 1              # the rule's fail-safe output when its inputs are lost
      access:                           # people + environment
        - zone: zone-a
          qualification: h2s-training
          when: {zone_alarm: {zone: zone-a, quantity: gas.h2s}}
          deny: {plc: plc-1, point: door_lock_zone_a, value: 1}

Conditions are small trees: ``any`` / ``all`` / ``not`` over leaves ``alarm`` (an alarm id
``<point>:<hh|h|l|ll|roc>`` or a point id, meaning any of its alarms; active in any ISA state that
is annunciated or latched), ``fault`` (a point in fault), ``exposure`` (a point's STEL/TWA/ceiling
exceeded), ``zone_alarm`` (any active alarm of a quantity in a zone).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Value = bool | int | float


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutputRef(_Model):
    plc: str
    point: str


class AllowedOutput(OutputRef):
    safe: Value  # the PLC's safe state for this output (fan on, door locked, valve closed)


class Heartbeat(OutputRef):
    interval_s: float = Field(1.0, gt=0, le=60)


class WriteAction(OutputRef):
    value: Value


class AlarmLeaf(_Model):
    alarm: str


class FaultLeaf(_Model):
    fault: str


class ExposureLeaf(_Model):
    exposure: str
    kind: Literal["stel", "twa", "ceiling", "any"] = "any"


class ZoneAlarmSpec(_Model):
    zone: str
    quantity: str | None = None
    min_priority: Literal["low", "medium", "high", "critical"] = "low"


class ZoneAlarmLeaf(_Model):
    zone_alarm: ZoneAlarmSpec


class AnyOf(_Model):
    any: list[Condition] = Field(min_length=1)


class AllOf(_Model):
    all: list[Condition] = Field(min_length=1)


class NotOf(_Model):
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_CONDITION_KEYS = ("any", "all", "not", "alarm", "fault", "exposure", "zone_alarm")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = [k for k in _CONDITION_KEYS if k in value]
        return keys[0] if len(keys) == 1 else None
    for key, cls in (("any", "AnyOf"), ("all", "AllOf"), ("not", "NotOf"), ("alarm", "AlarmLeaf"),
                     ("fault", "FaultLeaf"), ("exposure", "ExposureLeaf"), ("zone_alarm", "ZoneAlarmLeaf")):  # fmt: skip
        if type(value).__name__ == cls:
            return key
    return None


Condition = Annotated[
    Annotated[AnyOf, Tag("any")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[AlarmLeaf, Tag("alarm")]
    | Annotated[FaultLeaf, Tag("fault")]
    | Annotated[ExposureLeaf, Tag("exposure")]
    | Annotated[ZoneAlarmLeaf, Tag("zone_alarm")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="a condition is a mapping with exactly one of: "
        + ", ".join(_CONDITION_KEYS),
    ),
]


class InterlockRule(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    when: Condition
    then: WriteAction
    otherwise: Value | None = None
    on_input_loss: Value | None = None  # None: the output's declared safe value


class AccessRule(_Model):
    zone: str
    qualification: str
    when: Condition
    deny: WriteAction


class InterlocksConfig(_Model):
    outputs: list[AllowedOutput] = Field(default_factory=list)
    heartbeat: Heartbeat | None = None
    min_write_interval_s: float = Field(0.5, ge=0)
    verify: bool = True
    write_retries: int = Field(3, ge=0, le=10)
    rules: list[InterlockRule] = Field(default_factory=list)
    access: list[AccessRule] = Field(default_factory=list)
    badge_topic: str | None = None  # MQTT topic of badge events, e.g. "plant-1/badges"
    badge_broker: str | None = None  # broker URL, e.g. mqtt://127.0.0.1:1883
    qualifications_csv: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> InterlocksConfig:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"interlock rule ids must be unique, repeated: {dupes}")
        outs = [(o.plc, o.point) for o in self.outputs]
        if len(set(outs)) != len(outs):
            raise ValueError("an output is listed twice in interlocks.outputs")
        if bool(self.badge_topic) != bool(self.badge_broker):
            raise ValueError("badge_topic and badge_broker go together: set both or neither")
        if self.badge_broker and not self.badge_broker.startswith(("mqtt://", "mqtts://")):
            raise ValueError(
                f"badge_broker {self.badge_broker!r} must be an mqtt:// or mqtts:// URL"
            )
        if self.access and not self.badge_topic:
            raise ValueError(
                "interlocks.access rules need badge reads: set badge_topic and badge_broker"
            )
        return self

    def allowed(self, plc: str, point: str) -> AllowedOutput | None:
        for out in self.outputs:
            if out.plc == plc and out.point == point:
                return out
        return None


def leaves(cond: Any) -> list[Any]:
    """Every leaf of a condition tree, depth first."""
    if isinstance(cond, AnyOf):
        return [leaf for c in cond.any for leaf in leaves(c)]
    if isinstance(cond, AllOf):
        return [leaf for c in cond.all for leaf in leaves(c)]
    if isinstance(cond, NotOf):
        return leaves(cond.not_)
    return [cond]


AnyOf.model_rebuild()
AllOf.model_rebuild()
NotOf.model_rebuild()
InterlockRule.model_rebuild()
AccessRule.model_rebuild()
