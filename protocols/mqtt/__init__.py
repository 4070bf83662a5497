"""MQTT subscriber driver (aiomqtt over paho-mqtt). The driver lives in ``protocols.mqtt.driver``.

Only the point specs are imported here, so profiles load without aiomqtt installed. The driver
raises the errors of ``protocols.errors``::

    ConfigError    bad URL, option or point spec
    ConnectError   broker unreachable or refusing (retriable says which)
    WriteError     a publish not acknowledged, not connected, or not encodable

A payload that does not decode is never an exception: it is a BAD sample with a reason.
"""

from .points import MqttPoint, PayloadFormat

__all__ = ["MqttPoint", "PayloadFormat"]
