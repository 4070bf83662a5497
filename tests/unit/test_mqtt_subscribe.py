"""SUBACK refusals become bad samples.

mosquitto 2.0 grants every subscription (its ACL filters deliveries, not SUBSCRIBE) and the
embedded broker refuses only filters that MqttPoint already rejects, so no broker here sends a
refusal: this one test stands in a client that answers with refusal codes.
"""

from __future__ import annotations

from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from protocols import Quality
from protocols.mqtt import MqttPoint, PayloadFormat
from protocols.mqtt.driver import MqttDriver


class RefusingClient:
    """Grants QoS 1 to ``allowed/...`` filters and refuses the rest, like a broker's SUBACK."""

    def __init__(self, v5: bool) -> None:
        self.v5 = v5
        self.requests: list[list[tuple[str, int]]] = []

    async def subscribe(self, filters: list[tuple[str, int]], **_: float) -> Any:
        self.requests.append(filters)
        if self.v5:
            return [
                ReasonCode(PacketTypes.SUBACK, identifier=1 if t.startswith("allowed/") else 0x87)
                for t, _ in filters
            ]
        return tuple(1 if t.startswith("allowed/") else 0x80 for t, _ in filters)


async def test_refused_filters_become_bad_samples_for_their_points() -> None:
    for v5 in (False, True):
        driver = MqttDriver.from_url("mqtt://h", device_id="d")
        points = [
            MqttPoint(key="ok", topic="allowed/x", payload=PayloadFormat.NUMBER),
            MqttPoint(key="no1", topic="secret/x", payload=PayloadFormat.NUMBER),
            MqttPoint(key="no2", topic="secret/x", payload=PayloadFormat.NUMBER, qos=0),
        ]
        await driver.subscribe(points)
        client = RefusingClient(v5)
        await driver._subscribe_all(client)  # type: ignore[arg-type]
        assert client.requests == [[("allowed/x", 1), ("secret/x", 1)]]  # one filter, highest QoS
        samples = [await anext(driver.stream()) for _ in range(2)]
        assert sorted((s.key, s.quality, s.reason) for s in samples) == [
            ("no1", Quality.BAD, "mqtt.subscribe_refused"),
            ("no2", Quality.BAD, "mqtt.subscribe_refused"),
        ]
        assert driver.statistics().extra["errors_by_reason"] == {"mqtt.subscribe_refused": 2}
        await driver.close()
