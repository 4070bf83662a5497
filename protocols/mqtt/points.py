"""MQTT point specs: a topic (filter), and where the value sits in the payload.

``scale`` and ``offset`` turn the payload's number into the profile's unit
(``value * scale + offset``), as for Modbus and OPC UA.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from protocols.driver import PointSpec
from protocols.errors import ConfigError


class PayloadFormat(enum.StrEnum):
    JSON = "json"  # a JSON object; ``field`` is a dotted path to the value
    NUMBER = "number"  # the payload is a plain number in ASCII
    DOCUMENT = "document"  # a JSON object passed on whole, as text (events such as badge reads)


@dataclass(frozen=True, slots=True)
class MqttPoint(PointSpec):
    topic: str = ""
    payload: PayloadFormat = PayloadFormat.JSON
    field: str | None = None  # dotted path in a JSON payload, e.g. "data.pm10"
    timestamp_field: str | None = None  # dotted path to an epoch number or ISO 8601 string
    qos: int = 1
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        where = f"MQTT point {self.key!r}"
        if not self.topic or "\x00" in self.topic:
            raise ConfigError(f"{where}: topic={self.topic!r} is empty or invalid")
        if "#" in self.topic[:-1] or ("#" in self.topic and not self.topic.endswith("#")):
            raise ConfigError(f"{where}: topic={self.topic!r}: '#' may only end a filter")
        if self.payload is PayloadFormat.JSON and not self.field:
            raise ConfigError(f"{where}: a JSON payload needs 'field' (path to the value)")
        if self.qos not in (0, 1, 2):
            raise ConfigError(f"{where}: qos={self.qos} must be 0, 1 or 2")
        levels = self.topic.split("/")
        if any("+" in level and level != "+" for level in levels) or (
            "#" in self.topic and levels[-1] != "#"
        ):
            raise ConfigError(f"{where}: topic={self.topic!r}: a wildcard must fill a whole level")
        for name in ("field", "timestamp_field"):
            path = getattr(self, name)
            if path is not None and (not path or any(not part for part in path.split("."))):
                raise ConfigError(f"{where}: {name}={path!r} is not a dotted path like 'data.pm10'")
        if self.scale == 0 or not math.isfinite(self.scale) or not math.isfinite(self.offset):
            raise ConfigError(
                f"{where}: scale={self.scale}, offset={self.offset}: scale must be finite "
                "and not 0, offset finite"
            )
