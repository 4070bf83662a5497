"""Simulated MQTT devices: each device publishes its points per its profile's topics, at QoS 1.

Points that share a topic go out in one JSON message (each value at its dotted ``field`` path,
the device's time at each ``timestamp_field``); a ``number`` point publishes the bare number.
Values are ``SimDevice.wire_value`` (pre-scaling), timestamps the device's wall clock. An off-line
device publishes nothing. The publisher reconnects (capped backoff) when the broker goes away.

``python -m simulators.mqtt_publisher --profile <id> --device-id X --broker mqtt://127.0.0.1:1883``
publishes until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import ssl
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import aiomqtt
import structlog

from device_profiles import Catalog, DeviceEntry
from device_profiles.schema import PointProfile
from protocols.mqtt import PayloadFormat
from simulators.device import SimDevice
from simulators.serving_process import serve_until_signalled

TimestampFormat = Literal["iso", "epoch_s", "epoch_ms"]
log = structlog.get_logger("simulators.mqtt")


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    node = document
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"field path {path!r} crosses the value at {part!r}")
        node = child
    node[parts[-1]] = value


def format_timestamp(epoch_s: float, fmt: TimestampFormat) -> str | float | int:
    if fmt == "epoch_s":
        return round(epoch_s, 3)
    if fmt == "epoch_ms":
        return round(epoch_s * 1000)
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def device_messages(device: SimDevice, fmt: TimestampFormat = "iso") -> list[tuple[str, bytes]]:
    """The (topic, payload) messages ``device`` sends now, one per distinct topic."""
    documents: dict[str, dict[str, Any]] = {}
    numbers: list[tuple[str, bytes]] = []
    now = device.wall_clock()
    points: list[PointProfile] = [p for p in device.profile.points if p.mqtt is not None]
    for point in points:
        address = point.mqtt
        assert address is not None
        topic = address.topic.replace("{device}", device.id)
        value = round(device.wire_value(point.id), 6)
        if address.payload is PayloadFormat.NUMBER:
            numbers.append((topic, json.dumps(value).encode()))
            continue
        document = documents.setdefault(topic, {})
        _set_path(document, address.field or point.id, value)
        if address.timestamp_field:
            _set_path(document, address.timestamp_field, format_timestamp(now, fmt))
    return [
        (t, json.dumps(d, separators=(",", ":")).encode()) for t, d in documents.items()
    ] + numbers


class MqttSimPublisher:
    """Publishes ``devices`` to the broker at ``broker_url`` every ``interval_s`` (QoS 1)."""

    def __init__(
        self,
        devices: Sequence[SimDevice],
        *,
        broker_url: str,
        interval_s: float = 1.0,
        timestamp_format: TimestampFormat = "iso",
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        client_id: str | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s={interval_s} must be positive")
        parts = urlsplit(broker_url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker_url={broker_url!r} must look like mqtt://host:1883")
        self.devices = list(devices)
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.interval_s = interval_s
        self.timestamp_format: TimestampFormat = timestamp_format
        self.username = username
        self.password = password
        self.tls_context = tls_context
        if parts.scheme == "mqtts" and tls_context is None:
            self.tls_context = ssl.create_default_context()
        self.client_id = client_id or "hse-sim-" + "-".join(d.id for d in self.devices)[:40]
        self.published = 0
        self.connects = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        """The broker this publisher publishes to (what ``hse-sim run`` prints and logs)."""
        scheme = "mqtts" if self.tls_context is not None else "mqtt"
        return f"mqtt publisher -> {scheme}://{self.host}:{self.port}"

    async def __aenter__(self) -> MqttSimPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-sim[{self.client_id}]")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self.client_id,
                    username=self.username,
                    password=self.password,
                    tls_context=self.tls_context,
                    timeout=5.0,
                    logger=logging.getLogger("simulators.mqtt.client"),
                ) as client:
                    self.connects += 1
                    delay = 0.2
                    log.info("mqtt_sim.connected", broker=f"{self.host}:{self.port}")
                    while True:
                        await self._publish_round(client)
                        await asyncio.sleep(self.interval_s)
            except aiomqtt.MqttError as exc:
                log.warning("mqtt_sim.broker_unavailable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _publish_round(self, client: aiomqtt.Client) -> None:
        for device in self.devices:
            if not device.online:
                continue
            for topic, payload in device_messages(device, self.timestamp_format):
                await client.publish(topic, payload, qos=1)
                self.published += 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profile", required=True)
    parser.add_argument("--device-id", required=True, action="append")
    parser.add_argument("--profile-dir", action="append", default=[])
    parser.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--interval-s", type=float, default=1.0)
    parser.add_argument("--timestamp-format", choices=["iso", "epoch_s", "epoch_ms"], default="iso")
    parser.add_argument("--username")
    parser.add_argument("--password-file", type=Path, help="file holding the password (never argv)")
    parser.add_argument("--ca-file", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    profile = Catalog(args.profile_dir).profile(args.profile)
    devices = [
        SimDevice(DeviceEntry(id=d, profile=profile.id, url=args.broker), profile, seed=args.seed)
        for d in args.device_id
    ]
    password = args.password_file.read_text().strip() if args.password_file else None
    context = ssl.create_default_context(cafile=str(args.ca_file)) if args.ca_file else None
    publisher = MqttSimPublisher(
        devices,
        broker_url=args.broker,
        interval_s=args.interval_s,
        timestamp_format=args.timestamp_format,
        username=args.username,
        password=password,
        tls_context=context,
    )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_until_signalled(publisher, lambda: f"publishing to {args.broker}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
