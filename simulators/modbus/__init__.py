"""Simulated Modbus units and the server that puts them on a port or a serial line."""

from .serving import UnitServer
from .unit import ModbusUnit, NoAnswer, ProfileUnit, raw_registers

__all__ = ["ModbusUnit", "NoAnswer", "ProfileUnit", "UnitServer", "raw_registers"]
