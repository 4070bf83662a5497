"""A small MQTT 3.1.1 broker on asyncio, for the demo when no ``mosquitto`` is installed.

What it does (MQTT 3.1.1, OASIS 2014): CONNECT/CONNACK with optional user names and passwords,
SUBSCRIBE/UNSUBSCRIBE with ``+`` and ``#`` filters (a filter starting with a wildcard does not
match ``$`` topics, §4.7.2), PUBLISH at QoS 0 and 1 (PUBACK both ways; QoS 2 is granted as 1 and
a QoS 2 PUBLISH closes the connection), retained messages, PINGREQ, DISCONNECT, last will,
keepalive (1.5 x, §3.1.2.10). Sessions live in memory: a persistent client (clean session 0)
keeps its subscriptions, its unacknowledged QoS 1 messages (resent with DUP) and up to
``max_queued_messages`` QoS 1 messages that arrive while it is away; more are dropped, oldest
first, and counted. Not for production: no TLS, no persistence to disk, no QoS 2.

``python -m simulators.mqtt_broker --port P`` serves on 127.0.0.1 until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import structlog

from simulators.serving_process import read_users_file, serve_until_signalled

log = structlog.get_logger("simulators.mqtt_broker")

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
# CONNACK return codes (§3.2.2.3)
ACCEPTED, BAD_PROTOCOL, ID_REJECTED, BAD_CREDENTIALS, NOT_AUTHORIZED = 0, 1, 2, 4, 5


class ProtocolViolation(Exception):
    """The peer broke the protocol; the connection is closed (§4.8)."""


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


@dataclass(frozen=True)
class BrokerStatistics:
    connected_clients: int
    sessions: int
    retained: int
    messages_in: int
    messages_out: int
    dropped: int


@dataclass
class Session:
    client_id: str
    clean: bool
    subscriptions: dict[str, int] = field(default_factory=dict)
    inflight: dict[int, Message] = field(default_factory=dict)  # sent QoS 1, awaiting PUBACK
    pending: deque[Message] = field(default_factory=deque)  # QoS 1 not yet sent
    next_id: int = 0
    connection: Connection | None = None

    def packet_id(self) -> int:
        for _ in range(65535):
            self.next_id = self.next_id % 65535 + 1
            if self.next_id not in self.inflight:
                return self.next_id
        raise ProtocolViolation("no free packet identifier")


def valid_filter(topic_filter: str) -> bool:
    """A topic filter per §4.7.1: wildcards fill whole levels, ``#`` only last."""
    if not topic_filter or "\x00" in topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` (§4.7)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filters = topic_filter.split("/")
    levels = topic.split("/")
    for i, part in enumerate(filters):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(filters) == len(levels)


def _utf8(data: bytes, pos: int) -> tuple[str, int]:
    if pos + 2 > len(data):
        raise ProtocolViolation("truncated string")
    (length,) = struct.unpack_from("!H", data, pos)
    end = pos + 2 + length
    if end > len(data):
        raise ProtocolViolation("truncated string")
    try:
        return data[pos + 2 : end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise ProtocolViolation("string is not UTF-8") from None


def _binary(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 2 > len(data):
        raise ProtocolViolation("truncated field")
    (length,) = struct.unpack_from("!H", data, pos)
    return data[pos + 2 : pos + 2 + length], pos + 2 + length


def _str(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def packet(kind: int, flags: int, body: bytes) -> bytes:
    """A packet: fixed header (type, flags, remaining length as a varint, §2.2.3) and body."""
    length = len(body)
    header = bytearray([kind << 4 | flags])
    while True:
        byte, length = length % 128, length // 128
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def publish_packet(message: Message, packet_id: int | None, *, dup: bool = False) -> bytes:
    flags = (0x08 if dup else 0) | message.qos << 1 | (1 if message.retain else 0)
    body = _str(message.topic) + (struct.pack("!H", packet_id) if packet_id is not None else b"")
    return packet(PUBLISH, flags, body + message.payload)


class Connection:
    """One client connection: reads packets, writes packets, owns nothing after it ends."""

    def __init__(
        self, broker: MqttBroker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.broker = broker
        self.reader = reader
        self.writer = writer
        self.session: Session | None = None
        self.will: Message | None = None
        self.keepalive_s = 0

    def send(self, data: bytes) -> None:
        """Queue bytes for the peer; a peer too slow to drain its buffer is disconnected."""
        if self.writer.is_closing():
            return
        self.writer.write(data)
        transport = self.writer.transport
        if transport.get_write_buffer_size() > self.broker.max_buffer_bytes:
            log.warning("mqtt_broker.slow_client", client=self.session and self.session.client_id)
            transport.abort()

    async def read_packet(self, timeout_s: float | None) -> tuple[int, int, bytes]:
        async with asyncio.timeout(timeout_s):
            first = await self.reader.readexactly(1)
            length, multiplier = 0, 1
            for _ in range(4):
                (byte,) = await self.reader.readexactly(1)
                length += (byte & 0x7F) * multiplier
                if not byte & 0x80:
                    break
                multiplier *= 128
            else:
                raise ProtocolViolation("remaining length longer than 4 bytes")
            if length > self.broker.max_packet_bytes:
                raise ProtocolViolation(f"packet of {length} bytes is too large")
            body = await self.reader.readexactly(length)
        return first[0] >> 4, first[0] & 0x0F, body

    async def run(self) -> None:
        clean_exit = False
        try:
            kind, _, body = await self.read_packet(self.broker.connect_timeout_s)
            if kind != CONNECT or not await self._connect(body):
                return
            while True:
                timeout = self.keepalive_s * 1.5 if self.keepalive_s else None
                kind, flags, body = await self.read_packet(timeout)
                if kind == DISCONNECT:
                    clean_exit = True
                    return
                self._dispatch(kind, flags, body)
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            ConnectionError,
            ProtocolViolation,
        ) as exc:
            log.debug("mqtt_broker.connection_ended", reason=f"{type(exc).__name__}: {exc}")
        finally:
            self.broker._detach(self, publish_will=not clean_exit)
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)

    async def _connect(self, body: bytes) -> bool:
        name, pos = _utf8(body, 0)
        if pos + 4 > len(body):
            raise ProtocolViolation("truncated CONNECT")
        level, flags, keepalive = struct.unpack_from("!BBH", body, pos)
        pos += 4
        if (name, level) not in (("MQTT", 4), ("MQIsdp", 3)):
            self.send(packet(CONNACK, 0, bytes([0, BAD_PROTOCOL])))
            return False
        client_id, pos = _utf8(body, pos)
        clean = bool(flags & 0x02)
        if flags & 0x04:
            will_topic, pos = _utf8(body, pos)
            will_payload, pos = _binary(body, pos)
            self.will = Message(
                will_topic, will_payload, min((flags >> 3) & 3, 1), bool(flags & 0x20)
            )
        username = password = None
        if flags & 0x80:
            username, pos = _utf8(body, pos)
        if flags & 0x40:
            raw, pos = _binary(body, pos)
            password = raw.decode("utf-8", "replace")
        if not client_id:
            if not clean:
                self.send(packet(CONNACK, 0, bytes([0, ID_REJECTED])))
                return False
            client_id = f"auto-{id(self):x}"
        if not self.broker._authorized(username, password):
            self.send(packet(CONNACK, 0, bytes([0, BAD_CREDENTIALS])))
            log.info("mqtt_broker.refused", client=client_id, user=username)
            return False
        self.keepalive_s = keepalive
        session, present = self.broker._attach(self, client_id, clean)
        self.session = session
        self.send(packet(CONNACK, 0, bytes([1 if present else 0, ACCEPTED])))
        for packet_id, message in list(session.inflight.items()):
            self.send(publish_packet(message, packet_id, dup=True))
        self.broker._flush(session)
        return True

    def _dispatch(self, kind: int, flags: int, body: bytes) -> None:
        session = self.session
        assert session is not None
        if kind == PUBLISH:
            self._publish(flags, body)
        elif kind == PUBACK:
            (packet_id,) = struct.unpack_from("!H", body, 0)
            session.inflight.pop(packet_id, None)
            self.broker._flush(session)
        elif kind == SUBSCRIBE:
            self._subscribe(body)
        elif kind == UNSUBSCRIBE:
            (packet_id,) = struct.unpack_from("!H", body, 0)
            pos = 2
            while pos < len(body):
                topic_filter, pos = _utf8(body, pos)
                session.subscriptions.pop(topic_filter, None)
            self.send(packet(UNSUBACK, 0, struct.pack("!H", packet_id)))
        elif kind == PINGREQ:
            self.send(packet(PINGRESP, 0, b""))
        else:
            raise ProtocolViolation(f"unexpected packet type {kind}")

    def _publish(self, flags: int, body: bytes) -> None:
        qos = (flags >> 1) & 3
        if qos > 1:
            raise ProtocolViolation("QoS 2 is not supported by this broker")
        topic, pos = _utf8(body, 0)
        if not topic or "+" in topic or "#" in topic:
            raise ProtocolViolation(f"invalid topic name {topic!r}")
        packet_id = None
        if qos:
            (packet_id,) = struct.unpack_from("!H", body, pos)
            pos += 2
        self.broker._route(Message(topic, body[pos:], qos, bool(flags & 1)))
        if packet_id is not None:
            self.send(packet(PUBACK, 0, struct.pack("!H", packet_id)))

    def _subscribe(self, body: bytes) -> None:
        session = self.session
        assert session is not None
        (packet_id,) = struct.unpack_from("!H", body, 0)
        pos, granted, added = 2, bytearray(), []
        while pos < len(body):
            topic_filter, pos = _utf8(body, pos)
            if pos >= len(body):
                raise ProtocolViolation("SUBSCRIBE without requested QoS")
            requested = body[pos] & 3
            pos += 1
            if not valid_filter(topic_filter):
                granted.append(0x80)
                continue
            qos = min(requested, 1)
            session.subscriptions[topic_filter] = qos
            granted.append(qos)
            added.append((topic_filter, qos))
        if not granted:
            raise ProtocolViolation("SUBSCRIBE without topic filters")
        self.send(packet(SUBACK, 0, struct.pack("!H", packet_id) + bytes(granted)))
        for topic_filter, qos in added:
            for message in self.broker.retained.values():
                if topic_matches(topic_filter, message.topic):
                    self.broker._deliver(
                        session,
                        Message(message.topic, message.payload, min(qos, message.qos), True),
                    )


class MqttBroker:
    """The broker: ``async with MqttBroker(port=0) as broker: broker.url``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        max_queued_messages: int = 1000,
        max_inflight: int = 100,
        max_packet_bytes: int = 1 << 20,
        max_buffer_bytes: int = 8 << 20,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.users = dict(users) if users else None
        self.max_queued_messages = max_queued_messages
        self.max_inflight = max_inflight
        self.max_packet_bytes = max_packet_bytes
        self.max_buffer_bytes = max_buffer_bytes
        self.connect_timeout_s = connect_timeout_s
        self.sessions: dict[str, Session] = {}
        self.retained: dict[str, Message] = {}
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._in = self._out = self._dropped = 0

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def __aenter__(self) -> MqttBroker:
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
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("mqtt_broker.started", url=self.url)

    async def stop(self) -> None:
        """Stop listening, drop every connection and wait for their handlers to end."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers))
        await server.wait_closed()
        log.info("mqtt_broker.stopped", url=self.url)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await Connection(self, reader, writer).run()
        finally:
            self._handlers.discard(task)

    def _authorized(self, username: str | None, password: str | None) -> bool:
        if self.users is None:
            return True
        expected = self.users.get(username or "")
        if expected is None or password is None:
            return False
        return hmac.compare_digest(expected.encode(), password.encode())

    def _attach(self, connection: Connection, client_id: str, clean: bool) -> tuple[Session, bool]:
        old = self.sessions.get(client_id)
        if old is not None and old.connection is not None:
            old.connection.writer.transport.abort()  # §3.1.4: the newer connection wins
            old.connection.session = None
            old.connection = None
        if clean or old is None:
            session = Session(client_id, clean)
            self.sessions[client_id] = session
            present = False
        else:
            session, present = old, True
        session.connection = connection
        log.info("mqtt_broker.connected", client=client_id, clean=clean, session_present=present)
        return session, present

    def _detach(self, connection: Connection, *, publish_will: bool) -> None:
        session = connection.session
        if session is None:
            return
        connection.session = None
        if session.connection is connection:
            session.connection = None
            if session.clean:
                self.sessions.pop(session.client_id, None)
        if publish_will and connection.will is not None:
            self._route(connection.will)
        log.info("mqtt_broker.disconnected", client=session.client_id)

    def _route(self, message: Message) -> None:
        self._in += 1
        if message.retain:
            if message.payload:
                self.retained[message.topic] = message
            else:
                self.retained.pop(message.topic, None)
        forward = Message(message.topic, message.payload, message.qos, False)
        for session in list(self.sessions.values()):
            qos = max(
                (q for f, q in session.subscriptions.items() if topic_matches(f, message.topic)),
                default=None,
            )
            if qos is not None:
                self._deliver(
                    session, Message(forward.topic, forward.payload, min(qos, message.qos))
                )

    def _deliver(self, session: Session, message: Message) -> None:
        connection = session.connection
        if message.qos == 0:
            if connection is not None:
                connection.send(publish_packet(message, None))
                self._out += 1
            return  # QoS 0 is not kept for an absent client
        if len(session.pending) >= self.max_queued_messages:
            session.pending.popleft()
            self._dropped += 1
        session.pending.append(message)
        self._flush(session)

    def _flush(self, session: Session) -> None:
        """Send queued QoS 1 messages while the client is here and the in-flight window allows."""
        connection = session.connection
        while (
            connection is not None and session.pending and len(session.inflight) < self.max_inflight
        ):
            message = session.pending.popleft()
            packet_id = session.packet_id()
            session.inflight[packet_id] = message
            connection.send(publish_packet(message, packet_id))
            self._out += 1

    def statistics(self) -> BrokerStatistics:
        return BrokerStatistics(
            connected_clients=sum(1 for s in self.sessions.values() if s.connection is not None),
            sessions=len(self.sessions),
            retained=len(self.retained),
            messages_in=self._in,
            messages_out=self._out,
            dropped=self._dropped,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--users-file", type=Path, help="lines of user:password (never argv)")
    parser.add_argument("--max-queued-messages", type=int, default=1000)
    args = parser.parse_args(argv)
    broker = MqttBroker(
        host=args.host,
        port=args.port,
        users=read_users_file(args.users_file) if args.users_file else None,
        max_queued_messages=args.max_queued_messages,
    )

    asyncio.run(serve_until_signalled(broker, lambda: f"serving {broker.url}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
