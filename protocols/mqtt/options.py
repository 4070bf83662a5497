"""The MQTT driver's URL and options, checked before anything connects.

``mqtt://host:1883`` or ``mqtts://host:8883`` (TLS) plus keyword options (all optional):

======================  ============================================================================
client_id               fixed client id; default ``hse-<hostname>-<device_id>``. A persistent session
                        needs a fixed id, so without ``clean_session`` one of the two is required
clean_session           false (default): the broker keeps our subscriptions and queues QoS 1
                        messages while we are away; true: start afresh on every connect
protocol                ``3.1.1`` (default) or ``5``
session_expiry_s        MQTT 5: how long the broker keeps the session after we leave (86400)
keepalive_s             MQTT keepalive (30 s)
username, password      broker credentials; the password is never logged or shown in errors
ca_file                 mqtts: CA certificate(s) to verify the broker with (default: system store)
cert_file, key_file     mqtts: client certificate and key, for brokers that require one
check_hostname          mqtts: verify the broker's name against its certificate (true)
queue_size              samples buffered for ``stream()`` before the oldest is dropped (10000)
max_payload_bytes       larger payloads are refused as ``mqtt.payload.too_large`` (65536)
reconnect_initial_s     first reconnect delay (0.5 s), doubled per failure with full jitter ...
reconnect_max_s         ... up to this (30 s)
device_id               names the device in logs (and in the default client id)
======================  ============================================================================
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from protocols.driver_options import OptionReader, Secret
from protocols.errors import ConfigError


@dataclass(frozen=True)
class MqttOptions:
    """Validated options of one broker connection (``repr`` never shows the password)."""

    url: str  # without credentials
    host: str
    port: int
    tls: bool
    client_id: str
    clean_session: bool = False
    protocol: str = "3.1.1"
    session_expiry_s: int = 86_400
    keepalive_s: int = 30
    username: str | None = None
    password: Secret | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    queue_size: int = 10_000
    max_payload_bytes: int = 65_536
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    device_id: str | None = None

    @property
    def label(self) -> str:
        return self.device_id or self.client_id


def parse_url(url: str) -> tuple[str, str, int, bool]:
    """``(url, host, port, tls)`` of an ``mqtt://`` / ``mqtts://`` URL."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        tls = scheme == "mqtts"
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(f"MQTT URL {url!r} is not valid: {exc}") from None
    if scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ConfigError(f"MQTT URL {url!r} has no host (expected mqtt://host:1883)")
    if parts.password is not None:
        raise ConfigError(
            f"MQTT URL for host {parts.hostname!r} carries a password: give it as the "
            "'password' option (from the environment or a secrets file), never in the URL"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"MQTT URL {url!r}: a path, query or fragment is not used; topics belong to points"
        )
    return f"{scheme}://{parts.hostname}:{port}", parts.hostname, port, tls


class _ClosingSSLSocket(ssl.SSLSocket):
    """An SSL socket that closes itself when its handshake fails.

    paho-mqtt leaves the socket of a failed TLS handshake (an unverifiable broker) open until
    garbage collection; a driver retrying every few seconds would pile up descriptors.
    """

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def _ssl_context(
    where: str, ca_file: Any, cert_file: Any, key_file: Any, check_hostname: bool
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain; TLS 1.2 or newer
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"{where}: option ca_file={str(ca_file)!r} is not a CA certificate: {exc}"
        ) from None
    if cert_file is not None:
        try:
            context.load_cert_chain(
                certfile=str(cert_file), keyfile=str(key_file) if key_file else None
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{where}: options cert_file={str(cert_file)!r} / key_file={str(key_file)!r} "
                f"are not a certificate and its key: {exc}"
            ) from None
    context.check_hostname = check_hostname
    context.sslsocket_class = _ClosingSSLSocket
    return context


def parse_options(url: str, options: dict[str, Any]) -> MqttOptions:
    """Check ``url`` and ``options``; a bad one raises ``ConfigError`` naming it."""
    clean_url, host, port, tls = parse_url(url)
    read = OptionReader(clean_url, options)
    device_id = read.string("device_id")
    client_id = read.string("client_id")
    clean_session = read.boolean("clean_session", False)
    protocol = read.choice("protocol", "3.1.1", {"3.1.1": "3.1.1", "5": "5", "5.0": "5"})
    session_expiry_s = read.integer("session_expiry_s", 86_400, minimum=0, maximum=2**32 - 1)
    keepalive_s = read.integer("keepalive_s", 30, minimum=5, maximum=65_535)
    username = read.string("username", urlsplit(url).username)
    password = read.secret("password")
    ca_file = read.file("ca_file")
    cert_file = read.file("cert_file")
    key_file = read.file("key_file")
    check_hostname = read.boolean("check_hostname", True)
    queue_size = read.integer("queue_size", 10_000, minimum=1, maximum=10_000_000)
    max_payload_bytes = read.integer("max_payload_bytes", 65_536, minimum=1, maximum=268_435_455)
    reconnect_initial_s = read.number("reconnect_initial_s", 0.5, positive=True)
    reconnect_max_s = read.number("reconnect_max_s", 30.0, positive=True)
    read.finish()

    if password is not None and not username:
        raise ConfigError(f"{clean_url}: option password is set but username is not")
    if reconnect_max_s < reconnect_initial_s:
        raise ConfigError(
            f"{clean_url}: option reconnect_max_s={reconnect_max_s} is below "
            f"reconnect_initial_s={reconnect_initial_s}"
        )
    if client_id is None:
        if device_id is None and not clean_session:
            raise ConfigError(
                f"{clean_url}: a persistent session (clean_session=false) needs a fixed, unique "
                "identity: set option client_id or device_id"
            )
        client_id = f"hse-{socket.gethostname()}-{device_id or 'anon'}"
    if len(client_id.encode()) > 65_535:
        raise ConfigError(f"{clean_url}: option client_id is longer than MQTT allows")
    context = None
    if tls:
        context = _ssl_context(clean_url, ca_file, cert_file, key_file, check_hostname)
    else:
        given = [
            n
            for n, v in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file))
            if v
        ]
        if given:
            raise ConfigError(f"{clean_url}: option {given[0]} needs a TLS URL (mqtts://)")
    if key_file is not None and cert_file is None:
        raise ConfigError(f"{clean_url}: option key_file is set but cert_file is not")
    return MqttOptions(
        url=clean_url,
        host=host,
        port=port,
        tls=tls,
        client_id=client_id,
        clean_session=clean_session,
        protocol=protocol,
        session_expiry_s=session_expiry_s,
        keepalive_s=keepalive_s,
        username=username,
        password=password,
        ssl_context=context,
        queue_size=queue_size,
        max_payload_bytes=max_payload_bytes,
        reconnect_initial_s=reconnect_initial_s,
        reconnect_max_s=reconnect_max_s,
        device_id=device_id,
    )
