"""MQTT throughput: messages through mosquitto into MqttDriver.stream(), beside a raw aiomqtt
subscriber on the same messages, and the payload decoder beside bare ``json.loads``.

Each message is one JSON payload feeding two points (two fields and a timestamp), as a dust
monitor sends. The publisher, the driver and the raw subscriber share one process and loop;
mosquitto is a separate process on a free loopback port. Prints one JSON object last.

    .venv/bin/python -m tests.benchmarks.bench_mqtt_stream --quick    # under 60 s
    .venv/bin/python -m tests.benchmarks.bench_mqtt_stream            # full
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

import aiomqtt
import structlog

from protocols import Timeouts
from protocols.mqtt import MqttPoint
from protocols.mqtt.driver import MqttDriver
from protocols.mqtt.payload import decode
from tests.support.mosquitto import MOSQUITTO, Broker

TOPIC = "bench/dev-1/dust"
POINTS = [
    MqttPoint(key="pm10", topic="bench/+/dust", field="data.pm10", timestamp_field="ts"),
    MqttPoint(key="pm25", topic="bench/+/dust", field="data.pm25", timestamp_field="ts"),
]


def payload(n: int) -> bytes:
    return json.dumps(
        {"ts": 1715000000 + n / 1000, "data": {"pm10": 40 + n % 7, "pm25": 15.5}}
    ).encode()


async def publish_all(port: int, messages: int, qos: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port, timeout=30, max_inflight_messages=1000) as client:
        for n in range(messages):
            await client.publish(TOPIC, payload(n), qos=qos)


async def through_driver(port: int, messages: int, qos: int) -> float:
    driver = MqttDriver.from_url(
        f"mqtt://127.0.0.1:{port}",
        timeouts=Timeouts(5, 30),
        client_id="bench-driver",
        clean_session=True,
        queue_size=4 * messages,
    )
    await driver.subscribe(POINTS)
    await driver.connect()
    try:
        start = time.perf_counter()
        publisher = asyncio.create_task(publish_all(port, messages, qos))
        seen = 0
        async with asyncio.timeout(120):
            async for sample in driver.stream():
                assert sample.quality.value == "good"
                seen += 1
                if seen == 2 * messages:
                    break
        elapsed = time.perf_counter() - start
        await publisher
        assert driver.statistics().extra["dropped"] == 0
    finally:
        await driver.close()
    return messages / elapsed


async def through_raw(port: int, messages: int, qos: int) -> float:
    async with aiomqtt.Client("127.0.0.1", port, timeout=30, identifier="bench-raw") as client:
        await client.subscribe("bench/+/dust", qos=1)
        start = time.perf_counter()
        publisher = asyncio.create_task(publish_all(port, messages, qos))
        seen = 0
        async with asyncio.timeout(120):
            async for message in client.messages:
                json.loads(bytes(message.payload))  # parse once, as the least a consumer does
                seen += 1
                if seen == messages:
                    break
        elapsed = time.perf_counter() - start
        await publisher
    return messages / elapsed


def decode_rates(messages: int) -> tuple[float, float]:
    payloads = [payload(n) for n in range(messages)]
    start = time.perf_counter()
    for raw in payloads:
        decode(POINTS, raw, 0.0, max_payload_bytes=65536)
    ours = messages / (time.perf_counter() - start)
    start = time.perf_counter()
    for raw in payloads:
        json.loads(raw)
    ceiling = messages / (time.perf_counter() - start)
    return ours, ceiling


async def run(messages: int, repeats: int, qos: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            await through_driver(broker.port, min(messages, 1000), qos)  # warm up
            await through_raw(broker.port, min(messages, 1000), qos)
            driver_rates, raw_rates = [], []
            for _ in range(repeats):
                driver_rates.append(await through_driver(broker.port, messages, qos))
                raw_rates.append(await through_raw(broker.port, messages, qos))
        finally:
            broker.stop()
    decode_ours, decode_json = zip(*(decode_rates(messages) for _ in range(repeats)), strict=True)
    driver_mps = statistics.median(driver_rates)
    raw_mps = statistics.median(raw_rates)
    return {
        "benchmark": "mqtt_stream",
        "messages_per_repeat": messages,
        "points_per_message": len(POINTS),
        "publish_qos": qos,
        "repeats": repeats,
        "driver_messages_per_s": round(driver_mps),
        "driver_samples_per_s": round(driver_mps * len(POINTS)),
        "raw_aiomqtt_messages_per_s": round(raw_mps),
        "ratio_to_raw": round(driver_mps / raw_mps, 3),
        "decode_messages_per_s": round(statistics.median(decode_ours)),
        "json_loads_per_s": round(statistics.median(decode_json)),
        "decode_ratio_to_json_loads": round(
            statistics.median(decode_ours) / statistics.median(decode_json), 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke mode, under 60 s")
    parser.add_argument("--qos", type=int, choices=[0, 1], default=1)
    args = parser.parse_args()
    if MOSQUITTO is None:
        raise SystemExit("mosquitto is not installed")
    logging.basicConfig(level=logging.ERROR)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.quick:
        result = asyncio.run(run(messages=5_000, repeats=3, qos=args.qos))
    else:
        result = asyncio.run(run(messages=50_000, repeats=5, qos=args.qos))
    result["mode"] = "quick" if args.quick else "full"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
