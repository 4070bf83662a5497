"""OPC UA client driver (asyncua). The driver lives in ``protocols.opcua.driver``.

Only the point specs are imported here, so profiles load without asyncua installed. The driver
raises the errors of ``protocols.errors``::

    ConfigError                   bad URL, option or node id
    ConnectError                  server unreachable or refusing (retriable says which)
    └── PlaintextPasswordRefused  the password would travel unencrypted
    WriteError                    a write refused, not convertible, or not delivered
"""

from .points import DeadbandType, OpcUaPoint

__all__ = ["DeadbandType", "OpcUaPoint"]
