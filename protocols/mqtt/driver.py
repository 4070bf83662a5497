"""The MQTT subscriber driver (streaming contract) on aiomqtt, with writes as QoS 1 publishes.

Promises:

- Points map topic filters (``+``, ``#``) to values; one message may feed several points (fields
  of one JSON payload). Every message that matches a point yields one sample per matching point.
- A malformed payload is a BAD sample with a reason code (``mqtt.payload.*``, see
  ``protocols.mqtt.payload``), counted per reason in ``statistics().extra["errors_by_reason"]``
  and logged once when a point goes bad (or changes reason) and once when it is back; the driver
  keeps running.
- A persistent session by default (fixed client id, clean_session false / MQTT 5 session
  expiry), subscriptions at each point's QoS (1 by default): the broker keeps QoS 1 messages
  while the driver is away and delivers them on reconnect.
- When the broker goes away every subscribed point gets one BAD sample (``mqtt.disconnected``);
  the driver reconnects with exponential backoff and full jitter and subscribes again.
- Incoming messages and outgoing samples pass through bounded drop-oldest queues; drops are
  counted (``extra["dropped_messages"]``, ``extra["dropped"]``).
- Every I/O call runs under ``asyncio.timeout`` (``connect_s`` to connect, ``io_s`` per request).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Any

import aiomqtt
import structlog
from paho.mqtt.client import topic_matches_sub
from paho.mqtt.reasoncodes import ReasonCode

from protocols.driver import Timeouts
from protocols.errors import ConfigError, ConnectError, WriteError
from protocols.point_states import PointStates
from protocols.reconnect import reconnect
from protocols.sample_queue import SampleQueue
from protocols.stats import RateMeter
from protocols.types import DriverStatistics, Quality, Sample, Value

from .connection import DropOldestQueue, abandon, close_client, open_client, translate
from .options import MqttOptions, parse_options
from .payload import decode
from .points import MqttPoint, PayloadFormat

_TOPIC_CACHE_SIZE = 4096


def _as_points(points: Sequence[Any]) -> list[MqttPoint]:
    out: list[MqttPoint] = []
    for point in points:
        if not isinstance(point, MqttPoint):
            raise ConfigError(f"the MQTT driver takes MqttPoint specs, got {point!r}")
        out.append(point)
    keys = [p.key for p in out]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ConfigError(f"MQTT point keys given twice: {dupes}")
    return out


def _granted_code(code: object) -> int:
    if isinstance(code, ReasonCode):
        return int(code.value)
    return code if isinstance(code, int) else 0x80


class MqttDriver:
    """One client session with one broker; delivers the subscribed points' samples."""

    def __init__(self, url: str, *, options: MqttOptions, timeouts: Timeouts) -> None:
        self.url = url
        self.options = options
        self.timeouts = timeouts
        self._log = structlog.get_logger("protocols.mqtt").bind(
            device=options.label, broker=options.url
        )
        self._points: dict[str, MqttPoint] = {}
        self._topic_points: dict[str, tuple[MqttPoint, ...]] = {}
        self._client: aiomqtt.Client | None = None
        self._incoming: DropOldestQueue | None = None
        self._session: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._queue = SampleQueue(options.queue_size)
        # the connection loss is logged once for all points, not once per point
        self._states = PointStates(
            self._log, "mqtt", quiet_reasons=frozenset({"mqtt.disconnected"})
        )
        self._errors_by_reason: Counter[str] = Counter()
        self._messages = RateMeter()
        self._values = RateMeter()
        self._unmatched = 0
        self._dropped_messages = 0
        self._errors = 0
        self._timeouts = 0
        self._reconnects = 0
        self._published = 0
        self._last_error: str | None = None
        self._last_error_ts: float | None = None

    @classmethod
    def from_url(cls, url: str, *, timeouts: Timeouts | None = None, **options: Any) -> MqttDriver:
        """Build (not connect) a driver; a bad URL or option raises ``ConfigError`` naming it."""
        return cls(url, options=parse_options(url, options), timeouts=timeouts or Timeouts())

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and subscribe; raises ``ConnectError`` (not retriable for refused credentials
        or an unverifiable broker certificate). Once connected the driver stays connected,
        reconnecting by itself, until ``close``."""
        if self._closed:
            raise ConnectError(f"{self.options.url}: driver is closed", retriable=False)
        if self._session is not None:
            return  # connected once: the session task keeps (or gets) the connection back
        async with self._lock:
            if self._client is not None:
                return
            await self._establish()
        self._log.info("mqtt.connected", client_id=self.options.client_id)
        self._session = asyncio.create_task(
            self._run_session(), name=f"mqtt.session[{self.options.label}]"
        )
        self._session.add_done_callback(self._session_ended)

    def _session_ended(self, task: asyncio.Task[None]) -> None:
        # Only close() should end the session task; anything else is a bug that stops receiving.
        if not task.cancelled() and task.exception() is not None:
            self._record_error(f"session task crashed: {task.exception()!r}")
            self._log.error("mqtt.session_crashed", error=repr(task.exception()))

    async def _establish(self) -> None:
        client, incoming = await open_client(self.options, self.timeouts)
        try:
            await self._subscribe_all(client)
        except BaseException as exc:
            abandon(client)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise translate(exc, self.options, "subscribe") from exc
        self._client, self._incoming = client, incoming

    def _filters(self) -> dict[str, int]:
        """Each distinct topic filter of the points, at the highest QoS a point asks for it."""
        filters: dict[str, int] = {}
        for point in self._points.values():
            filters[point.topic] = max(filters.get(point.topic, 0), point.qos)
        return filters

    async def _subscribe_all(
        self, client: aiomqtt.Client, filters: dict[str, int] | None = None
    ) -> None:
        """SUBSCRIBE ``filters`` (default: every point's) in one packet; refusals become samples."""
        filters = self._filters() if filters is None else filters
        if not filters:
            return
        async with asyncio.timeout(self.timeouts.io_s):
            granted = await client.subscribe(list(filters.items()), timeout=self.timeouts.io_s)
        now = time.time()
        for (topic, _), code in zip(filters.items(), granted, strict=False):
            if _granted_code(code) >= 0x80:  # MQTT 3.1.1 §3.9.3 / MQTT 5 §3.9.3: failure
                self._log.warning("mqtt.subscribe_refused", topic=topic, code=str(code))
                for point in self._points.values():
                    if point.topic == topic:
                        self._deliver(
                            Sample(
                                point.key, None, Quality.BAD, now, reason="mqtt.subscribe_refused"
                            )
                        )

    async def _run_session(self) -> None:
        """Receive until the connection drops, then reconnect; forever, until cancelled."""
        while True:
            client = self._client
            if client is not None:
                reason = await self._receive(client)
                await self._drop_connection(reason)
            await self._reconnect()

    async def _receive(self, client: aiomqtt.Client) -> str:
        try:
            async for message in client.messages:
                self._handle(message)
        except aiomqtt.MqttError as exc:
            cause = exc.__cause__ or exc
            return f"{type(cause).__name__}: {cause}"
        return "the broker closed the connection"

    async def _drop_connection(self, reason: str) -> None:
        async with self._lock:
            client, self._client = self._client, None
            if self._incoming is not None:
                self._dropped_messages += self._incoming.dropped
                self._incoming = None
            if client is not None:
                abandon(client)
                await close_client(client, self.timeouts)
            now = time.time()
            for point in self._points.values():
                self._deliver(Sample(point.key, None, Quality.BAD, now, reason="mqtt.disconnected"))
        self._record_error(f"connection lost: {reason}")
        self._log.warning("mqtt.unavailable", error=reason)

    async def _reconnect(self) -> None:
        await reconnect(
            self._establish,
            lock=self._lock,
            initial_s=self.options.reconnect_initial_s,
            max_s=self.options.reconnect_max_s,
            record_error=self._record_error,
            log=self._log,
            event_prefix="mqtt",
        )
        self._reconnects += 1

    async def __aenter__(self) -> MqttDriver:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop receiving and reconnecting, disconnect cleanly (the session stays on the broker
        unless ``clean_session``); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            self._session.cancel()
            await asyncio.wait([self._session])
            self._session = None
        async with self._lock:
            client, self._client = self._client, None
            if client is not None:
                await close_client(client, self.timeouts)
        self._queue.close()

    # -- streaming -------------------------------------------------------------------------

    async def subscribe(self, points: Sequence[Any]) -> None:
        """Add (or replace, by key) points; subscribes at once if connected."""
        checked = _as_points(points)
        async with self._lock:
            before = self._filters()
            for point in checked:
                self._points[point.key] = point
            self._topic_points.clear()
            client = self._client
            if client is None:
                return
            # Only new filters (or a raised QoS): re-subscribing would replay retained messages.
            changed = {t: q for t, q in self._filters().items() if before.get(t, -1) < q}
            try:
                await self._subscribe_all(client, changed)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                raise translate(exc, self.options, "subscribe") from exc

    def stream(self) -> AsyncIterator[Sample]:
        """Samples as messages arrive, across reconnects, until ``close`` (one consumer)."""
        return aiter(self._queue)

    def _points_for(self, topic: str) -> tuple[MqttPoint, ...]:
        points = self._topic_points.get(topic)
        if points is None:
            points = tuple(p for p in self._points.values() if topic_matches_sub(p.topic, topic))
            if len(self._topic_points) >= _TOPIC_CACHE_SIZE:
                self._topic_points.clear()
            self._topic_points[topic] = points
        return points

    def _handle(self, message: aiomqtt.Message) -> None:
        self._messages.add()
        points = self._points_for(message.topic.value)
        if not points:
            self._unmatched += 1
            return
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, bytes | bytearray):
            payload = b"" if payload is None else str(payload).encode()
        samples = decode(
            points, bytes(payload), time.time(), max_payload_bytes=self.options.max_payload_bytes
        )
        for sample in samples:
            self._deliver(sample)

    def _deliver(self, sample: Sample) -> None:
        self._values.add()
        if sample.quality is Quality.BAD and sample.reason:
            self._errors_by_reason[sample.reason] += 1
        self._states.update(sample)
        self._queue.put(sample)

    # -- writing ---------------------------------------------------------------------------

    async def write(self, point: Any, value: Value) -> None:
        """Publish ``value`` to the point's topic at QoS 1 and wait for the broker's PUBACK.

        A JSON point publishes ``{"<field path>": value}`` as nested objects; a number point
        publishes the number. Numbers are unscaled (``(value - offset) / scale``).
        Raises ``WriteError`` (retriable when not connected or timed out).
        """
        if not isinstance(point, MqttPoint):
            raise ConfigError(f"the MQTT driver writes MqttPoint specs, got {point!r}")
        where = f"publish to MQTT point {point.key!r} ({point.topic})"
        if "+" in point.topic or "#" in point.topic:
            raise WriteError(
                f"{where}: the topic is a filter; cannot publish to it", retriable=False
            )
        payload = self._encode(point, value, where)
        client = self._client
        if client is None:
            raise WriteError(f"{where}: not connected", retriable=True)
        try:
            async with asyncio.timeout(self.timeouts.io_s):
                await client.publish(point.topic, payload, qos=1, timeout=self.timeouts.io_s)
        except TimeoutError as exc:
            self._timeouts += 1
            raise WriteError(
                f"{where}: no PUBACK within {self.timeouts.io_s} s", retriable=True
            ) from exc
        except aiomqtt.MqttError as exc:
            self._record_error(f"publish failed: {exc}")
            raise WriteError(f"{where}: {exc}", retriable=True) from exc
        self._published += 1

    @staticmethod
    def _encode(point: MqttPoint, value: Value, where: str) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WriteError(f"{where}: {value!r} is not a number", retriable=False)
        raw = (float(value) - point.offset) / point.scale
        if not math.isfinite(raw):
            raise WriteError(f"{where}: {value!r} is not a finite number", retriable=False)
        if point.payload is PayloadFormat.NUMBER:
            return json.dumps(raw).encode()
        assert point.field is not None
        document: Any = raw
        for part in reversed(point.field.split(".")):
            document = {part: document}
        return json.dumps(document).encode()

    # -- statistics ------------------------------------------------------------------------

    def _record_error(self, message: str) -> None:
        self._errors += 1
        self._last_error = message
        self._last_error_ts = time.time()

    def statistics(self) -> DriverStatistics:
        queue = self._queue.statistics()
        incoming = self._incoming.dropped if self._incoming is not None else 0
        return DriverStatistics(
            url=self.url,
            connected=self._client is not None,
            requests=self._messages.total,
            values=self._values.total,
            errors=self._errors + sum(self._errors_by_reason.values()),
            timeouts=self._timeouts,
            reconnects=self._reconnects,
            requests_per_s=self._messages.rate(),
            values_per_s=self._values.rate(),
            last_error=self._last_error,
            last_error_ts=self._last_error_ts,
            extra={
                "messages": self._messages.total,
                "unmatched_messages": self._unmatched,
                "published": self._published,
                "dropped": queue.dropped,
                "dropped_messages": self._dropped_messages + incoming,
                "errors_by_reason": dict(self._errors_by_reason),
                "queue": asdict(queue),
                "subscribed_points": len(self._points),
                "bad_points": self._states.bad_points(),
            },
        )
