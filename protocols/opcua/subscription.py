"""One OPC UA subscription for a driver's points: monitored items with sampling and deadband.

Each point becomes one monitored item with its own sampling interval and, when it has one, a
DataChangeFilter (trigger StatusValue, absolute deadband or percent of EURange, Part 4 §7.22.2).
Notifications are drained by one task into the driver's callback as samples; an item the server
refuses (unknown node, filter not allowed) becomes one bad sample with the server's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import (
    DataChangeEvent,
    OverflowPolicy,
    StatusChangeEvent,
    Subscription,
)
from asyncua.ua.attribute_ids import AttributeIds

from protocols.types import Quality, Sample

from .convert import sample_from
from .points import DeadbandType, OpcUaPoint
from .status import quality_of, reason_for

_DEADBAND = {
    DeadbandType.NONE: ua.DeadbandType.None_,
    DeadbandType.ABSOLUTE: ua.DeadbandType.Absolute,
    DeadbandType.PERCENT: ua.DeadbandType.Percent,
}
MIN_PUBLISHING_INTERVAL_MS = 50.0


def publishing_interval_ms(points: Sequence[OpcUaPoint], requested: float | None) -> float:
    """The subscription's publishing interval: as requested, else the fastest point's sampling."""
    if requested:
        return requested
    fastest = min((p.sampling_interval_ms for p in points), default=1000.0)
    return max(MIN_PUBLISHING_INTERVAL_MS, fastest)


def monitored_item_request(
    point: OpcUaPoint, node_id: ua.NodeId, handle: int, publishing_ms: float
) -> ua.MonitoredItemCreateRequest:
    """The CreateMonitoredItems entry of one point (``handle`` comes back on each notification)."""
    params = ua.MonitoringParameters()
    params.ClientHandle = handle
    params.SamplingInterval = point.sampling_interval_ms
    # Keep every sample taken between two publishes, so a short excursion is not lost.
    sampling = max(point.sampling_interval_ms, 1.0)
    params.QueueSize = max(1, min(100, math.ceil(publishing_ms / sampling)))
    params.DiscardOldest = True
    if point.deadband_type is not DeadbandType.NONE:
        params.Filter = ua.DataChangeFilter(
            Trigger=ua.DataChangeTrigger.StatusValue,
            DeadbandType=_DEADBAND[point.deadband_type],
            DeadbandValue=point.deadband,
        )
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.Value)
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = params
    return request


class PointSubscription:
    """A live subscription of ``points`` on ``client``; ``deliver`` gets every sample.

    ``on_failed`` is called when the server reports the subscription itself dead (a Bad status
    change, e.g. BadTimeout): the driver then rebuilds the connection.
    """

    def __init__(
        self,
        points: Sequence[tuple[OpcUaPoint, ua.NodeId]],
        deliver: Callable[[Sample], None],
        on_failed: Callable[[str], None],
        *,
        label: str,
        publishing_ms: float | None,
        queue_size: int,
    ) -> None:
        self._points = list(points)
        self._deliver = deliver
        self._on_failed = on_failed
        self._label = label
        self._publishing_ms = publishing_interval_ms([p for p, _ in points], publishing_ms)
        self._queue_size = queue_size
        self._handles: dict[int, OpcUaPoint] = {}
        self._subscription: Subscription | None = None
        self._pump: asyncio.Task[None] | None = None
        self.refused: dict[str, str] = {}  # point key -> reason, for items the server refused

    async def start(self, client: Client, timeout_s: float) -> None:
        """Create the subscription and its items (one request each), then start draining."""
        async with asyncio.timeout(timeout_s):
            subscription = await client.create_subscription(
                self._publishing_ms,
                None,
                queue_maxsize=self._queue_size,
                overflow=OverflowPolicy.DROP_OLDEST,
            )
        self._subscription = subscription
        requests = []
        for handle, (point, node_id) in enumerate(self._points, start=1):
            self._handles[handle] = point
            requests.append(monitored_item_request(point, node_id, handle, self._publishing_ms))
        async with asyncio.timeout(timeout_s):
            results = await subscription.create_monitored_items(requests)
        now = time.time()
        for (point, _), result in zip(self._points, results, strict=True):
            if isinstance(result, ua.StatusCode):
                reason = reason_for(result.value) or "opcua.Bad"
                self.refused[point.key] = reason
                self._deliver(
                    Sample(
                        point.key,
                        None,
                        Quality.BAD,
                        now,
                        reason=reason,
                        status_code=result.value,
                    )
                )
        self._pump = asyncio.create_task(
            self._drain(subscription), name=f"opcua.subscription[{self._label}]"
        )

    async def _drain(self, subscription: Subscription) -> None:
        async for event in subscription:
            if isinstance(event, DataChangeEvent):
                item = event.data.monitored_item
                point = self._handles.get(item.ClientHandle)
                if point is not None and item.Value is not None:
                    self._deliver(sample_from(point, item.Value, time.time()))
            elif isinstance(event, StatusChangeEvent):
                status = event.notification.Status
                if status is not None and quality_of(status.value) is Quality.BAD:
                    self._on_failed(reason_for(status.value) or "opcua.Bad")

    async def stop(self, timeout_s: float, *, delete_on_server: bool) -> None:
        """Stop draining; delete the subscription on the server if it is still reachable."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.wait([self._pump])
            self._pump = None
        subscription, self._subscription = self._subscription, None
        if subscription is not None and delete_on_server:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout_s):
                    await subscription.delete()
