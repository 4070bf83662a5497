"""The OPC UA driver's URL and options, checked before anything connects.

``opc.tcp://host:port/path`` plus keyword options (all optional):

========================  ==========================================================================
username, password        user identity token; the password is never logged or shown in errors
security_policy           ``None`` (default) or ``Basic256Sha256``
security_mode             ``Sign`` or ``SignAndEncrypt`` (default when a policy is set)
certificate, private_key  this client's application instance certificate and key (PEM or DER)
server_certificate        the server certificate to trust (pinned: another certificate is refused)
application_uri           defaults to the URI in ``certificate``'s subjectAltName
allow_plaintext_password  send a password the server would receive unencrypted (default false)
publishing_interval_ms    subscription publishing interval (default: the smallest sampling interval)
queue_size                samples buffered for ``stream()`` before the oldest is dropped (10000)
max_nodes_per_read        nodes per Read request (500)
reconnect_initial_s       first reconnect delay (0.5 s), doubled per failure with jitter ...
reconnect_max_s           ... up to this (30 s)
watchdog_interval_s       how often an idle connection is probed (1 s)
session_timeout_s         how long the server keeps our session after we vanish (60 s)
device_id                 names the device in logs
========================  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from protocols.driver_options import OptionReader, Secret
from protocols.errors import ConfigError


@dataclass(frozen=True)
class OpcUaOptions:
    """Validated options of one OPC UA connection (``repr`` never shows the password)."""

    endpoint: str
    host: str
    port: int
    username: str | None = None
    password: Secret | None = None
    security_policy: str | None = None  # "Basic256Sha256" or None
    security_mode: str | None = None  # "Sign" / "SignAndEncrypt", None without a policy
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    application_uri: str | None = None
    allow_plaintext_password: bool = False
    publishing_interval_ms: float | None = None
    queue_size: int = 10_000
    max_nodes_per_read: int = 500
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    watchdog_interval_s: float = 1.0
    session_timeout_s: float = 60.0
    device_id: str | None = None

    @property
    def label(self) -> str:
        """How logs name this connection."""
        return self.device_id or f"{self.host}:{self.port}"


_POLICIES = {"None": None, "Basic256Sha256": "Basic256Sha256"}
_MODES = {"Sign": "Sign", "SignAndEncrypt": "SignAndEncrypt", "None": None}


def parse_url(url: str) -> tuple[str, str, int]:
    """``(endpoint, host, port)`` of an ``opc.tcp://`` URL; ``ConfigError`` names what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port or 4840
    except ValueError as exc:
        raise ConfigError(f"OPC UA URL {url!r} is not valid: {exc}") from None
    if parts.scheme.lower() != "opc.tcp":
        raise ConfigError(f"OPC UA URL {url!r} must start with opc.tcp://")
    if not parts.hostname:
        raise ConfigError(f"OPC UA URL {url!r} has no host (expected opc.tcp://host:4840/path)")
    if parts.password is not None:
        raise ConfigError(
            f"OPC UA URL for host {parts.hostname!r} carries a password: give it as the "
            "'password' option (from the environment or a secrets file), never in the URL"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"OPC UA URL {url!r}: query strings and fragments are not used; give settings as options"
        )
    endpoint = f"opc.tcp://{parts.hostname}:{port}{parts.path}"
    return endpoint, parts.hostname, port


def parse_options(url: str, options: dict[str, Any]) -> OpcUaOptions:
    """Check ``url`` and ``options``; a bad one raises ``ConfigError`` naming it."""
    endpoint, host, port = parse_url(url)
    read = OptionReader(endpoint, options)
    url_user = urlsplit(url).username
    username = read.string("username", url_user)
    password = read.secret("password")
    policy = read.choice("security_policy", None, _POLICIES)
    mode = read.choice("security_mode", "SignAndEncrypt" if policy else None, _MODES)
    certificate = read.file("certificate")
    private_key = read.file("private_key")
    server_certificate = read.file("server_certificate")
    opts = OpcUaOptions(
        endpoint=endpoint,
        host=host,
        port=port,
        username=username,
        password=password,
        security_policy=policy,
        security_mode=mode,
        certificate=certificate,
        private_key=private_key,
        server_certificate=server_certificate,
        application_uri=read.string("application_uri"),
        allow_plaintext_password=read.boolean("allow_plaintext_password", False),
        publishing_interval_ms=(read.number("publishing_interval_ms", 0.0, minimum=0.0) or None),
        queue_size=read.integer("queue_size", 10_000, minimum=1, maximum=10_000_000),
        max_nodes_per_read=read.integer("max_nodes_per_read", 500, minimum=1, maximum=100_000),
        reconnect_initial_s=read.number("reconnect_initial_s", 0.5, positive=True),
        reconnect_max_s=read.number("reconnect_max_s", 30.0, positive=True),
        watchdog_interval_s=read.number("watchdog_interval_s", 1.0, positive=True),
        session_timeout_s=read.number("session_timeout_s", 60.0, minimum=1.0, maximum=86_400.0),
        device_id=read.string("device_id"),
    )
    read.finish()
    _check_consistency(opts)
    return opts


def _check_consistency(opts: OpcUaOptions) -> None:
    where = opts.endpoint
    if opts.reconnect_max_s < opts.reconnect_initial_s:
        raise ConfigError(
            f"{where}: option reconnect_max_s={opts.reconnect_max_s} is below "
            f"reconnect_initial_s={opts.reconnect_initial_s}"
        )
    if opts.password is not None and not opts.username:
        raise ConfigError(f"{where}: option password is set but username is not")
    if opts.security_policy is None:
        if opts.security_mode is not None:
            raise ConfigError(
                f"{where}: option security_mode={opts.security_mode!r} needs "
                "security_policy=Basic256Sha256"
            )
        for name in ("certificate", "private_key", "server_certificate"):
            if getattr(opts, name) is not None:
                raise ConfigError(
                    f"{where}: option {name} is set but security_policy is None; "
                    "set security_policy=Basic256Sha256 to use certificates"
                )
        return
    if opts.security_mode is None:
        raise ConfigError(
            f"{where}: option security_mode=None contradicts security_policy="
            f"{opts.security_policy!r}; use Sign or SignAndEncrypt"
        )
    missing = [
        name
        for name in ("certificate", "private_key", "server_certificate")
        if getattr(opts, name) is None
    ]
    if missing:
        raise ConfigError(
            f"{where}: security_policy={opts.security_policy} needs option(s) "
            f"{', '.join(missing)} (client certificate and key, and the server certificate to trust)"
        )
