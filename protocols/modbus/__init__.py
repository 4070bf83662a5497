"""Modbus TCP, RTU (serial) and RTU-over-TCP. The driver lives in ``protocols.modbus.driver``."""

from .points import DataType, ModbusPoint, Table, WordOrder

__all__ = ["DataType", "ModbusPoint", "Table", "WordOrder"]
