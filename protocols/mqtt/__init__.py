"""MQTT subscriber driver (aiomqtt over paho-mqtt). The driver lives in ``protocols.mqtt.driver``."""

from .points import MqttPoint, PayloadFormat

__all__ = ["MqttPoint", "PayloadFormat"]
