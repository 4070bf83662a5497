"""Opening and closing one aiomqtt client, and translating its errors to ours.

aiomqtt drives paho-mqtt from the event loop (socket readers, no network thread); only paho's
blocking ``connect`` runs in an executor thread, bounded by paho's own connect timeout.
One client object lives for one connection: the driver makes a new one to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt
from aiomqtt import Message
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocols.driver import Timeouts
from protocols.errors import ConnectError, ProtocolError

from .options import MqttOptions

# paho's own chatter (and aiomqtt's) goes to this logger, not to the root logger.
CLIENT_LOGGER = logging.getLogger("protocols.mqtt.client")

# CONNACK codes that will not change by retrying (MQTT 3.1.1 §3.2.2.3, MQTT 5 §3.2.2.2).
_REFUSED_FOR_GOOD = {
    "Not authorized",
    "Bad user name or password",
    "Client identifier not valid",
    "Unsupported protocol version",
    "Banned",
    "Bad authentication method",
}


class DropOldestQueue(asyncio.Queue[Message]):
    """aiomqtt's incoming queue: when full, drop the oldest message (counted), never refuse."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.dropped = 0

    def put_nowait(self, item: Message) -> None:
        if self.full():
            self.get_nowait()
            self.dropped += 1
        super().put_nowait(item)


def make_client(opts: MqttOptions, timeouts: Timeouts) -> tuple[aiomqtt.Client, DropOldestQueue]:
    """A new, unconnected client for ``opts`` and its incoming queue."""
    queue_holder: list[DropOldestQueue] = []

    class _Queue(DropOldestQueue):
        def __init__(self, maxsize: int = 0) -> None:
            super().__init__(maxsize)
            queue_holder.append(self)

    v5 = opts.protocol == "5"
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0 if opts.clean_session else opts.session_expiry_s
    client = aiomqtt.Client(
        opts.host,
        opts.port,
        username=opts.username,
        password=opts.password.reveal() if opts.password is not None else None,
        logger=CLIENT_LOGGER,
        identifier=opts.client_id,
        queue_type=_Queue,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        clean_session=None if v5 else opts.clean_session,
        clean_start=opts.clean_session if v5 else MQTT_CLEAN_START_FIRST_ONLY,
        properties=properties,
        timeout=timeouts.io_s,
        keepalive=opts.keepalive_s,
        max_queued_incoming_messages=opts.queue_size,
        tls_context=opts.ssl_context,
    )
    # Bound the blocking TCP/TLS connect in paho's executor thread inside our connect timeout,
    # so that thread has finished (and any socket is registered) before we give up on it.
    client._client.connect_timeout = timeouts.connect_s * 0.8
    return client, queue_holder[0]


def translate(exc: BaseException, opts: MqttOptions, doing: str) -> ProtocolError:
    """Our error for what aiomqtt / paho / the socket raised while ``doing`` something."""
    where = f"{opts.url}: {doing}"
    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, MqttConnectError):
        text = str(exc)
        if any(code in text for code in _REFUSED_FOR_GOOD):
            user = f"user {opts.username!r}" if opts.username else "anonymous access"
            return ConnectError(
                f"{where}: the broker refused {user}, client id {opts.client_id!r}: {text}",
                retriable=False,
            )
        return ConnectError(f"{where}: the broker refused the connection: {text}", retriable=True)
    if isinstance(exc, TimeoutError):
        return ConnectError(f"{where}: no answer in time", retriable=True)
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return ConnectError(
            f"{where}: the broker's TLS certificate does not verify ({text}); check ca_file "
            "and the host name",
            retriable=False,
        )
    return ConnectError(f"{where}: {type(exc).__name__}: {text}", retriable=True)


async def open_client(
    opts: MqttOptions, timeouts: Timeouts
) -> tuple[aiomqtt.Client, DropOldestQueue]:
    """A connected client; raises ``ConnectError``."""
    client, queue = make_client(opts, timeouts)
    try:
        async with asyncio.timeout(timeouts.connect_s):
            await client.__aenter__()
    except BaseException as exc:
        abandon(client)
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise translate(exc, opts, "connect") from exc
    return client, queue


def abandon(client: aiomqtt.Client) -> None:
    """Close a client's socket now, without a DISCONNECT (it failed half-way or the link is dead).

    aiomqtt leaves the socket (and its reader) open when the CONNACK wait times out; closing it
    through paho also removes the reader and ends aiomqtt's housekeeping task.
    """
    with contextlib.suppress(Exception):
        client._client._sock_close()


async def close_client(client: aiomqtt.Client, timeouts: Timeouts) -> None:
    """Disconnect cleanly within the I/O timeout, else drop the socket; never raises."""
    try:
        async with asyncio.timeout(timeouts.io_s):
            await client.__aexit__(None, None, None)
    except Exception:
        abandon(client)
