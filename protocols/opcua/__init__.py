"""OPC UA client driver (asyncua). The driver lives in ``protocols.opcua.driver``."""

from .points import DeadbandType, OpcUaPoint

__all__ = ["DeadbandType", "OpcUaPoint"]
