"""OPC UA point specs: a node id, with optional subscription sampling interval and deadband."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocols.driver import PointSpec
from protocols.errors import ConfigError


class DeadbandType(enum.StrEnum):
    NONE = "none"
    ABSOLUTE = "absolute"
    PERCENT = "percent"  # of the node's EURange (Part 8 §6.2)


@dataclass(frozen=True, slots=True)
class OpcUaPoint(PointSpec):
    node_id: str = ""
    sampling_interval_ms: float = 1000.0
    deadband_type: DeadbandType = DeadbandType.NONE
    deadband: float = 0.0

    def __post_init__(self) -> None:
        where = f"OPC UA point {self.key!r}"
        if not self.node_id or "=" not in self.node_id:
            raise ConfigError(
                f"{where}: node_id={self.node_id!r} is not a node id like 'ns=2;s=H2S'"
            )
        if self.sampling_interval_ms < 0:
            raise ConfigError(
                f"{where}: sampling_interval_ms={self.sampling_interval_ms} is negative"
            )
        if self.deadband < 0:
            raise ConfigError(f"{where}: deadband={self.deadband} is negative")
        if self.deadband_type is DeadbandType.PERCENT and self.deadband > 100:
            raise ConfigError(f"{where}: percent deadband={self.deadband} is above 100")
