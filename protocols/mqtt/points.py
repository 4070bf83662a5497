"""MQTT point specs: a topic (filter), and where the value sits in the payload."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocols.driver import PointSpec
from protocols.errors import ConfigError


class PayloadFormat(enum.StrEnum):
    JSON = "json"  # a JSON object; ``field`` is a dotted path to the value
    NUMBER = "number"  # the payload is a plain number in ASCII


@dataclass(frozen=True, slots=True)
class MqttPoint(PointSpec):
    topic: str = ""
    payload: PayloadFormat = PayloadFormat.JSON
    field: str | None = None  # dotted path in a JSON payload, e.g. "data.pm10"
    timestamp_field: str | None = None  # dotted path to an epoch number or ISO 8601 string
    qos: int = 1

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
