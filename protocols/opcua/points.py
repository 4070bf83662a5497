"""OPC UA point specs: a node id, with optional subscription sampling interval and deadband.

A node id is written in the OPC UA string form (Part 6 §5.3.1.10): an optional ``ns=<index>;``
(or ``nsu=<uri>;``) then ``i=<number>``, ``s=<string>``, ``g=<guid>`` or ``b=<base64>``.
``scale`` and ``offset`` turn the node's number into the profile's unit
(``value * scale + offset``), as for Modbus.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

from protocols.driver import PointSpec
from protocols.errors import ConfigError

_NODE_ID = re.compile(
    r"^(?:(?:ns=\d+|nsu=[^;]+);)?"
    r"(?:i=\d+|s=.+|g=[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|b=[A-Za-z0-9+/=]+)$",
    re.DOTALL,
)


def is_node_id(text: str) -> bool:
    """Whether ``text`` is a node id in the OPC UA string form."""
    return bool(_NODE_ID.match(text))


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
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        where = f"OPC UA point {self.key!r}"
        if not is_node_id(self.node_id):
            raise ConfigError(
                f"{where}: node_id={self.node_id!r} is not a node id like 'ns=2;s=H2S' "
                "(ns=<index>; then i=<number>, s=<string>, g=<guid> or b=<base64>)"
            )
        if self.sampling_interval_ms < 0:
            raise ConfigError(
                f"{where}: sampling_interval_ms={self.sampling_interval_ms} is negative"
            )
        if self.deadband < 0:
            raise ConfigError(f"{where}: deadband={self.deadband} is negative")
        if self.deadband_type is DeadbandType.PERCENT and self.deadband > 100:
            raise ConfigError(f"{where}: percent deadband={self.deadband} is above 100")
        if self.scale == 0 or not math.isfinite(self.scale) or not math.isfinite(self.offset):
            raise ConfigError(
                f"{where}: scale={self.scale}, offset={self.offset}: scale must be finite "
                "and not 0, offset finite"
            )
