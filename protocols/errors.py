"""Errors raised by drivers and by the wire schema.

Every error says whether retrying the same call can help (``retriable``); the agent decides what
to do with that, drivers never swallow an error.

    ProtocolError                 base of everything raised by ``protocols``
    ├── ConfigError               a URL, option or point spec is wrong (never retriable)
    │   ├── UnknownSchemeError    no driver is registered for the URL scheme
    │   └── MissingExtraError     the driver exists but its library is not installed
    ├── ConnectError              the peer could not be reached or dropped the connection (retriable)
    ├── DeviceTimeout             a request got no answer in time (retriable)
    ├── DeviceError               the device answered with an error (Modbus exception, OPC UA Bad)
    ├── DecodeError               bytes from the wire do not decode to what the spec says
    └── WriteError                a write was refused or could not be verified
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class. ``retriable`` says whether the same call may succeed later."""

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class ConfigError(ProtocolError, ValueError):
    """A URL, option or point specification is invalid."""


class UnknownSchemeError(ConfigError):
    """No driver is registered for a URL scheme; the message lists the known schemes."""


class MissingExtraError(ConfigError):
    """A driver's library is not installed; the message names the ``pip install`` that fixes it."""


class ConnectError(ProtocolError):
    """The peer is unreachable, refused the connection or closed it."""

    retriable = True


class DeviceTimeout(ProtocolError):
    """A request got no (complete) answer within its timeout."""

    retriable = True


class DeviceError(ProtocolError):
    """The device answered, with an error. ``code`` is the protocol's own code."""

    def __init__(self, message: str, *, code: int | None = None, retriable: bool = False) -> None:
        super().__init__(message, retriable=retriable)
        self.code = code


class DecodeError(ProtocolError):
    """Data from the wire does not decode as the point spec says."""


class WriteError(ProtocolError):
    """A write was refused by the device or its read-back did not match."""
