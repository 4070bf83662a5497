"""The OPC UA client driver: plain reads (polling) and a subscription (streaming) on one session.

Promises:

- ``read(plan)`` sends one Read request per ``max_nodes_per_read`` nodes and returns exactly one
  sample per planned point; the server's StatusCode decides the quality (Part 4 §7.34) and is
  kept in ``status_code``, its name in ``reason``; the SourceTimestamp is kept as ``source_ts``.
- ``subscribe(points)`` + ``stream()``: one subscription, a monitored item per point with its
  sampling interval and deadband; samples pass through a bounded queue that drops the oldest
  (counted in ``statistics().extra["dropped"]``).
- When the connection dies, every subscribed point gets one Bad sample
  (``opcua.BadNoCommunication``); the driver reconnects with exponential backoff and full jitter
  and re-creates the subscription by itself. Reads meanwhile return Bad samples at once.
- Every I/O call runs under ``asyncio.timeout``: ``Timeouts.connect_s`` to connect, ``io_s`` per
  request. Passwords never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua import uaerrors
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import UaError

from protocols.driver import Timeouts
from protocols.errors import ConfigError, ConnectError, WriteError
from protocols.point_states import PointStates
from protocols.reconnect import reconnect
from protocols.sample_queue import SampleQueue
from protocols.stats import RateMeter
from protocols.types import DriverStatistics, Quality, Sample, Value

from .connection import dispose, open_client, translate
from .convert import sample_from, to_variant, variant_type_of
from .options import OpcUaOptions, parse_options
from .points import OpcUaPoint
from .status import BAD_COMMUNICATION_ERROR, BAD_NO_COMMUNICATION, BAD_TIMEOUT, reason_for
from .subscription import PointSubscription


@dataclass(frozen=True)
class OpcUaReadPlan:
    """Points to read, with their node ids parsed and their ReadValueIds built once."""

    points: tuple[OpcUaPoint, ...]
    node_ids: tuple[ua.NodeId, ...]
    read_ids: tuple[ua.ReadValueId, ...]


def parse_node_id(point: OpcUaPoint) -> ua.NodeId:
    """The point's node id as asyncua's NodeId; ``ConfigError`` names the point and the text."""
    try:
        return ua.NodeId.from_string(point.node_id)
    except (ValueError, TypeError, IndexError, UaError) as exc:
        raise ConfigError(
            f"OPC UA point {point.key!r}: node_id={point.node_id!r} does not parse: {exc}"
        ) from None


def _as_points(points: Sequence[Any]) -> list[OpcUaPoint]:
    out: list[OpcUaPoint] = []
    seen: set[str] = set()
    for point in points:
        if not isinstance(point, OpcUaPoint):
            raise ConfigError(f"the OPC UA driver takes OpcUaPoint specs, got {point!r}")
        if point.key in seen:
            raise ConfigError(f"OPC UA point key {point.key!r} is given twice")
        seen.add(point.key)
        out.append(point)
    return out


class OpcUaDriver:
    """One session to one OPC UA server; polling and streaming contracts both."""

    def __init__(self, url: str, *, options: OpcUaOptions, timeouts: Timeouts) -> None:
        self.url = url
        self.options = options
        self.timeouts = timeouts
        self._log = structlog.get_logger("protocols.opcua").bind(
            device=options.label, endpoint=options.endpoint
        )
        self._client: Client | None = None
        self._generation = 0
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = False
        self._points: dict[str, tuple[OpcUaPoint, ua.NodeId]] = {}
        self._subscription: PointSubscription | None = None
        self._queue = SampleQueue(options.queue_size)
        self._data_types: dict[str, ua.VariantType] = {}
        self._states = PointStates(self._log, "opcua")
        self._requests = RateMeter()
        self._values = RateMeter()
        self._errors = 0
        self._timeouts = 0
        self._reconnects = 0
        self._last_error: str | None = None
        self._last_error_ts: float | None = None

    @classmethod
    def from_url(cls, url: str, *, timeouts: Timeouts | None = None, **options: Any) -> OpcUaDriver:
        """Build (not connect) a driver; a bad URL or option raises ``ConfigError`` naming it."""
        return cls(url, options=parse_options(url, options), timeouts=timeouts or Timeouts())

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the session (and the subscription, if points are subscribed).

        Raises ``ConnectError`` (``retriable`` False for refused credentials or certificates) or
        ``ConfigError`` for unreadable certificates. Once connected, the driver keeps itself
        connected until ``close``.
        """
        if self._closed:
            raise ConnectError(f"{self.options.endpoint}: driver is closed", retriable=False)
        if self._supervisor is not None:
            return  # connected once: the supervisor keeps (or gets) the connection back
        async with self._lock:
            if self._client is not None:
                return
            await self._establish()
        self._log.info("opcua.connected")
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(
                self._supervise(), name=f"opcua.session[{self.options.label}]"
            )
            self._supervisor.add_done_callback(self._supervisor_ended)

    def _supervisor_ended(self, task: asyncio.Task[None]) -> None:
        # Only close() should end the supervisor; anything else is a bug that stops reconnecting.
        if not task.cancelled() and task.exception() is not None:
            self._record_error(f"session supervisor crashed: {task.exception()!r}")
            self._log.error("opcua.supervisor_crashed", error=repr(task.exception()))

    async def _establish(self) -> None:
        generation = self._generation + 1

        async def on_lost(exc: Exception) -> None:
            self._note_lost(generation, f"{type(exc).__name__}: {exc}")

        client = await open_client(self.options, self.timeouts, on_lost)
        try:
            if self._points:
                await self._start_subscription(client)
        except BaseException as exc:
            await self._stop_subscription(delete_on_server=False)
            await dispose(client, self.timeouts)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise translate(exc, self.options, "create the subscription") from exc
        self._generation = generation
        self._client = client
        self._lost.clear()

    def _note_lost(self, generation: int, reason: str) -> None:
        if generation == self._generation and self._client is not None:
            self._lost_reason = reason
            self._lost.set()

    async def _supervise(self) -> None:
        """Wait for the connection to die, then rebuild it until it is back (until closed)."""
        while True:
            await self._lost.wait()
            self._lost.clear()
            await self._drop_connection(self._lost_reason)
            await self._reconnect()

    async def _drop_connection(self, reason: str) -> None:
        async with self._lock:
            client, self._client = self._client, None
            self._generation += 1
            await self._stop_subscription(delete_on_server=False)
            now = time.time()
            for point, _ in self._points.values():
                self._deliver(
                    Sample(
                        point.key,
                        None,
                        Quality.BAD,
                        now,
                        reason="opcua.BadNoCommunication",
                        status_code=BAD_NO_COMMUNICATION,
                    )
                )
            if client is not None:
                await dispose(client, self.timeouts)
        self._record_error(f"connection lost: {reason}")
        self._log.warning("opcua.unavailable", error=reason)

    async def _reconnect(self) -> None:
        await reconnect(
            self._establish,
            lock=self._lock,
            initial_s=self.options.reconnect_initial_s,
            max_s=self.options.reconnect_max_s,
            record_error=self._record_error,
            log=self._log,
            event_prefix="opcua",
        )
        self._reconnects += 1

    async def __aenter__(self) -> OpcUaDriver:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop reconnecting, delete the subscription, close the session; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.wait([self._supervisor])
            self._supervisor = None
        async with self._lock:
            await self._stop_subscription(delete_on_server=self._client is not None)
            client, self._client = self._client, None
            self._generation += 1
            if client is not None:
                await dispose(client, self.timeouts)
        self._queue.close()

    # -- polling ---------------------------------------------------------------------------

    def plan(self, points: Sequence[Any]) -> OpcUaReadPlan:
        """Check the points and parse their node ids once; ``ConfigError`` names a bad one."""
        checked = _as_points(points)
        node_ids = tuple(parse_node_id(p) for p in checked)
        read_ids = tuple(
            ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.Value) for node_id in node_ids
        )
        return OpcUaReadPlan(tuple(checked), node_ids, read_ids)

    async def read(self, plan: OpcUaReadPlan) -> list[Sample]:
        """One sample per planned point, from as few Read requests as ``max_nodes_per_read`` allows."""
        client = self._client
        if client is None:
            return self._all_bad(plan.points, BAD_NO_COMMUNICATION)
        size = self.options.max_nodes_per_read
        samples: list[Sample] = []
        for start in range(0, len(plan.points), size):
            points = plan.points[start : start + size]
            read_ids = plan.read_ids[start : start + size]
            samples.extend(await self._read_chunk(client, points, read_ids))
        return samples

    async def _read_chunk(
        self, client: Client, points: Sequence[OpcUaPoint], read_ids: Sequence[ua.ReadValueId]
    ) -> list[Sample]:
        params = ua.ReadParameters()
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        params.NodesToRead = list(read_ids)
        self._requests.add()
        try:
            async with asyncio.timeout(self.timeouts.io_s):
                results = await client.uaclient.read(params)
        except TimeoutError:
            self._timeouts += 1
            self._record_error(
                f"read of {len(points)} nodes timed out after {self.timeouts.io_s} s"
            )
            return self._all_bad(points, BAD_TIMEOUT)
        except uaerrors.UaStatusCodeError as exc:
            self._record_error(f"read refused: {reason_for(int(exc.code))}")
            return self._all_bad(points, int(exc.code))
        except (ConnectionError, OSError, UaError) as exc:
            self._record_error(f"read failed: {type(exc).__name__}: {exc}")
            self._note_lost(self._generation, f"{type(exc).__name__}: {exc}")
            return self._all_bad(points, BAD_COMMUNICATION_ERROR)
        received = time.time()
        samples = [sample_from(p, dv, received) for p, dv in zip(points, results, strict=True)]
        self._values.add(len(samples))
        for sample in samples:
            self._states.update(sample)
        return samples

    def _all_bad(self, points: Sequence[OpcUaPoint], code: int) -> list[Sample]:
        now = time.time()
        return [
            Sample(p.key, None, Quality.BAD, now, reason=reason_for(code), status_code=code)
            for p in points
        ]

    # -- streaming -------------------------------------------------------------------------

    async def subscribe(self, points: Sequence[Any]) -> None:
        """Add (or replace, by key) points to the subscription; before or after ``connect``."""
        checked = _as_points(points)
        parsed = [(p, parse_node_id(p)) for p in checked]
        async with self._lock:
            for point, node_id in parsed:
                self._points[point.key] = (point, node_id)
            client = self._client
            if client is None:
                return
            await self._stop_subscription(delete_on_server=True)
            try:
                await self._start_subscription(client)
            except Exception as exc:
                error = translate(exc, self.options, "create the subscription")
                self._note_lost(self._generation, str(error))
                raise error from exc

    async def _start_subscription(self, client: Client) -> None:
        subscription = PointSubscription(
            list(self._points.values()),
            self._deliver,
            lambda reason: self._note_lost(self._generation, f"subscription failed: {reason}"),
            label=self.options.label,
            publishing_ms=self.options.publishing_interval_ms,
            queue_size=self.options.queue_size,
        )
        self._subscription = subscription
        await subscription.start(client, self.timeouts.io_s)
        for key, reason in subscription.refused.items():
            self._log.warning("opcua.monitored_item_refused", point=key, reason=reason)

    async def _stop_subscription(self, *, delete_on_server: bool) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.stop(self.timeouts.io_s, delete_on_server=delete_on_server)

    def stream(self) -> AsyncIterator[Sample]:
        """Subscribed samples as they arrive, across reconnects, until ``close`` (one consumer)."""
        return aiter(self._queue)

    def _deliver(self, sample: Sample) -> None:
        self._values.add()
        self._states.update(sample)
        self._queue.put(sample)

    # -- writing ---------------------------------------------------------------------------

    async def write(self, point: Any, value: Value) -> None:
        """Write ``value`` (in the point's unit) as the node's own data type.

        Raises ``WriteError``: refused by the server (``retriable`` False, the message names the
        status), not convertible to the node's type, or not connected / timed out (retriable).
        """
        if not isinstance(point, OpcUaPoint):
            raise ConfigError(f"the OPC UA driver writes OpcUaPoint specs, got {point!r}")
        node_id = parse_node_id(point)
        client = self._client
        where = f"write to OPC UA point {point.key!r} ({point.node_id})"
        if client is None:
            raise WriteError(f"{where}: not connected", retriable=True)
        try:
            vtype = self._data_types.get(point.node_id)
            if vtype is None:
                vtype = await self._data_type(client, point, node_id)
                self._data_types[point.node_id] = vtype
            variant = to_variant(point, value, vtype)
            params = ua.WriteParameters()
            params.NodesToWrite = [
                ua.WriteValue(
                    NodeId=node_id, AttributeId=AttributeIds.Value, Value=ua.DataValue(variant)
                )
            ]
            self._requests.add()
            async with asyncio.timeout(self.timeouts.io_s):
                results = await client.uaclient.write(params)
        except WriteError:
            raise
        except TimeoutError as exc:
            self._timeouts += 1
            raise WriteError(
                f"{where}: no answer within {self.timeouts.io_s} s", retriable=True
            ) from exc
        except (ConnectionError, OSError, UaError) as exc:
            self._record_error(f"write failed: {exc}")
            raise WriteError(f"{where}: {type(exc).__name__}: {exc}", retriable=True) from exc
        code = results[0].value
        if not results[0].is_good():
            self._record_error(f"write refused: {reason_for(code)}")
            raise WriteError(
                f"{where}: the server refused it ({reason_for(code)})", retriable=False
            )

    async def _data_type(
        self, client: Client, point: OpcUaPoint, node_id: ua.NodeId
    ) -> ua.VariantType:
        params = ua.ReadParameters()
        params.NodesToRead = [
            ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.DataType),
            ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.Value),
        ]
        self._requests.add()
        async with asyncio.timeout(self.timeouts.io_s):
            data_type, current = await client.uaclient.read(params)
        where = f"write to OPC UA point {point.key!r} ({point.node_id})"
        if data_type.StatusCode is not None and not data_type.StatusCode.is_good():
            raise WriteError(
                f"{where}: cannot read the node's DataType ({reason_for(data_type.StatusCode.value)})",
                retriable=False,
            )
        vtype = None
        if data_type.Value is not None and isinstance(data_type.Value.Value, ua.NodeId):
            vtype = variant_type_of(data_type.Value.Value)
        if vtype is None and current.Value is not None:
            vtype = (
                current.Value.VariantType
                if current.Value.VariantType != ua.VariantType.Null
                else None
            )
        if vtype is None:
            raise WriteError(f"{where}: cannot tell the node's data type", retriable=False)
        return vtype

    # -- statistics ------------------------------------------------------------------------

    def _record_error(self, message: str) -> None:
        self._errors += 1
        self._last_error = message
        self._last_error_ts = time.time()

    def statistics(self) -> DriverStatistics:
        queue = self._queue.statistics()
        return DriverStatistics(
            url=self.url,
            connected=self._client is not None,
            requests=self._requests.total,
            values=self._values.total,
            errors=self._errors,
            timeouts=self._timeouts,
            reconnects=self._reconnects,
            requests_per_s=self._requests.rate(),
            values_per_s=self._values.rate(),
            last_error=self._last_error,
            last_error_ts=self._last_error_ts,
            extra={
                "dropped": queue.dropped,
                "queue": asdict(queue),
                "subscribed_points": len(self._points),
                "bad_points": self._states.bad_points(),
            },
        )
