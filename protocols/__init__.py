"""Every wire format the system speaks: device drivers and the edge-to-central sync schema.

This package imports nothing else of the project. Drivers are found by URL scheme
(:func:`open_driver`); protocol libraries are imported only when their scheme is used.
"""

from .driver import Driver, PointSpec, PollingDriver, StreamingDriver, Timeouts
from .errors import (
    ConfigError,
    ConnectError,
    DecodeError,
    DeviceError,
    DeviceTimeout,
    MissingExtraError,
    ProtocolError,
    UnknownSchemeError,
    WriteError,
)
from .fake import FakeDriver
from .registry import driver_class, known_schemes, open_driver
from .types import DriverStatistics, Quality, Sample, Value

__all__ = [
    "ConfigError",
    "ConnectError",
    "DecodeError",
    "DeviceError",
    "DeviceTimeout",
    "Driver",
    "DriverStatistics",
    "FakeDriver",
    "MissingExtraError",
    "PointSpec",
    "PollingDriver",
    "ProtocolError",
    "Quality",
    "Sample",
    "StreamingDriver",
    "Timeouts",
    "UnknownSchemeError",
    "Value",
    "WriteError",
    "driver_class",
    "known_schemes",
    "open_driver",
]
