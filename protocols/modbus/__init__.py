"""Modbus TCP, RTU (serial) and RTU-over-TCP: point specs, codec, read planner and driver.

The driver (``protocols.modbus.driver.ModbusDriver``, which needs pymodbus) is imported lazily by
the registry; this package's own imports need nothing beyond the standard library.

    ProtocolError (protocols.errors)
    ├── ConfigError
    │   └── EncodeError       a value does not fit the point it is written to (codec)
    └── DecodeError
        └── NotFiniteError    a float on the wire is NaN or infinite (codec)
"""

from .codec import EncodeError, NotFiniteError, decode, encode
from .planner import Block, ReadPlan, plan_reads
from .points import DataType, ModbusPoint, Table, WordOrder

__all__ = [
    "Block",
    "DataType",
    "EncodeError",
    "ModbusPoint",
    "NotFiniteError",
    "ReadPlan",
    "Table",
    "WordOrder",
    "decode",
    "encode",
    "plan_reads",
]
