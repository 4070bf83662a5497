"""Interlocks: requests to smart-safety PLCs, from alarm, fault and exposure states.

The agent's interlocks *request* actions from a safety PLC (start a fan, lock a door); they do not
replace the PLC's certified (SIL-rated) safety logic, which must act on its own inputs and on its
watchdog when the agent stops.
"""

from .conditions import SafetyView, evaluate
from .config import AccessRule, AllowedOutput, Heartbeat, InterlockRule, InterlocksConfig
from .engine import BadgeEvent, InterlockEngine
from .writer import NotAllowedError, OutputStatus, PlcWriter

__all__ = [
    "AccessRule",
    "AllowedOutput",
    "BadgeEvent",
    "Heartbeat",
    "InterlockEngine",
    "InterlockRule",
    "InterlocksConfig",
    "NotAllowedError",
    "OutputStatus",
    "PlcWriter",
    "SafetyView",
    "evaluate",
]
