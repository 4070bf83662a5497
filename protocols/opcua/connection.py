"""Opening and disposing of one asyncua client, and translating its errors to ours.

asyncua's own reconnect is switched off: the driver owns reconnection (backoff with jitter,
re-creating its subscription), so a client object lives for exactly one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua import uaerrors
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from protocols.driver import Timeouts
from protocols.errors import ConfigError, ConnectError, ProtocolError

from .options import OpcUaOptions
from .status import status_name

DEFAULT_APPLICATION_URI = "urn:hse-sensor-platform:edge-agent"

# Codes that say the server will refuse us again until someone fixes configuration.
_AUTH_CODES = {
    StatusCodes.BadUserAccessDenied,
    StatusCodes.BadIdentityTokenInvalid,
    StatusCodes.BadIdentityTokenRejected,
    StatusCodes.BadUserSignatureInvalid,
}
_SECURITY_CODES = {
    StatusCodes.BadSecurityChecksFailed,
    StatusCodes.BadSecurityPolicyRejected,
    StatusCodes.BadSecurityModeRejected,
    StatusCodes.BadCertificateInvalid,
    StatusCodes.BadCertificateUntrusted,
    StatusCodes.BadCertificateUriInvalid,
    StatusCodes.BadCertificateUseNotAllowed,
    StatusCodes.BadCertificateTimeInvalid,
    StatusCodes.BadCertificateRevoked,
}


class _RedactActivateSession(logging.Filter):
    """asyncua logs every request it sends at DEBUG, the user's password included: redact that one."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, ua.ActivateSessionRequest) for a in args):
            record.args = tuple(
                "ActivateSessionRequest(<identity token redacted>)"
                if isinstance(a, ua.ActivateSessionRequest)
                else a
                for a in args
            )
        return True


_REQUEST_LOGGER = logging.getLogger("asyncua.client.ua_client.UASocketProtocol")
if not any(isinstance(f, _RedactActivateSession) for f in _REQUEST_LOGGER.filters):
    _REQUEST_LOGGER.addFilter(_RedactActivateSession())


class PlaintextPasswordRefused(ConnectError):
    """The server offered only an unencrypted way to send the password."""

    retriable = False


class _Client(Client):
    """asyncua's client, refusing to send a password the server would receive in clear text."""

    allow_plaintext_password = False

    def _add_user_auth(
        self, params: ua.ActivateSessionParameters, username: str | None, password: str | None
    ) -> None:
        policy = self.server_policy(ua.UserTokenType.UserName)
        token_encrypted = bool(policy.SecurityPolicyUri) and (
            policy.SecurityPolicyUri != security_policies.SecurityPolicyNone.URI
        )
        channel_encrypted = self.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        plaintext = bool(password) and not (token_encrypted or channel_encrypted)
        if plaintext and not self.allow_plaintext_password:
            raise PlaintextPasswordRefused(
                f"{self.server_url.geturl()}: the server would receive the password "
                "unencrypted; use security_policy=Basic256Sha256 with SignAndEncrypt "
                "(or set allow_plaintext_password=true on a trusted network)",
                retriable=False,
            )
        super()._add_user_auth(params, username, password)


def _application_uri(opts: OpcUaOptions, certificate: x509.Certificate | None) -> str:
    if opts.application_uri:
        return opts.application_uri
    if certificate is not None:
        with contextlib.suppress(x509.ExtensionNotFound):
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
            if uris:
                return str(uris[0])
    return DEFAULT_APPLICATION_URI


async def _configure(client: _Client, opts: OpcUaOptions) -> None:
    client.allow_plaintext_password = opts.allow_plaintext_password
    if opts.username:
        client.set_user(opts.username)
    if opts.password is not None:
        client.set_password(opts.password.reveal())
    if opts.security_policy is None:
        return
    # parse_options guarantees all three with a policy
    assert opts.certificate is not None
    assert opts.private_key is not None
    assert opts.server_certificate is not None
    try:
        certificate = await uacrypto.load_certificate(opts.certificate)
        client.application_uri = _application_uri(opts, certificate)
        mode = getattr(ua.MessageSecurityMode, opts.security_mode or "SignAndEncrypt")
        await client.set_security(
            security_policies.SecurityPolicyBasic256Sha256,
            certificate=str(opts.certificate),
            private_key=str(opts.private_key),
            server_certificate=str(opts.server_certificate),
            mode=mode,
        )
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigError(
            f"{opts.endpoint}: cannot load certificate={opts.certificate}, "
            f"private_key={opts.private_key} or server_certificate={opts.server_certificate}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def translate(exc: BaseException, opts: OpcUaOptions, doing: str) -> ProtocolError:
    """Our error for an exception asyncua (or the socket) raised while ``doing`` something."""
    where = f"{opts.endpoint}: {doing}"
    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, uaerrors.UaStatusCodeError):
        code = int(exc.code)
        name = status_name(code)
        if code in _AUTH_CODES:
            user = f"user {opts.username!r}" if opts.username else "anonymous access"
            return ConnectError(
                f"{where}: the server refused {user} ({name}); check username and password",
                retriable=False,
            )
        if code in _SECURITY_CODES:
            return ConnectError(
                f"{where}: security handshake refused ({name}); check the certificates, "
                "security_policy and security_mode",
                retriable=False,
            )
        return ConnectError(f"{where}: {name}", retriable=True)
    if isinstance(exc, TimeoutError):
        return ConnectError(f"{where}: no answer in time", retriable=True)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(f"{where}: connection refused", retriable=True)
    if isinstance(exc, OSError | ConnectionError | EOFError):
        return ConnectError(f"{where}: {type(exc).__name__}: {exc}", retriable=True)
    if isinstance(exc, UaError):
        text = str(exc)
        if "certificate mismatch" in text.lower():
            return ConnectError(
                f"{where}: the server's certificate is not the trusted server_certificate "
                f"{opts.server_certificate}",
                retriable=False,
            )
        return ConnectError(f"{where}: {type(exc).__name__}: {text}", retriable=True)
    return ConnectError(f"{where}: {type(exc).__name__}: {exc}", retriable=True)


async def open_client(
    opts: OpcUaOptions,
    timeouts: Timeouts,
    on_lost: Callable[[Exception], Coroutine[Any, Any, None]],
) -> Client:
    """A connected, activated client; raises ``ConnectError`` / ``ConfigError``.

    ``on_lost`` is called (once) when asyncua's watchdog sees the connection die.
    """
    client = _Client(
        opts.endpoint, timeout=timeouts.io_s, watchdog_intervall=opts.watchdog_interval_s
    )
    client.name = client.description = "HSE edge agent"
    client.application_uri = opts.application_uri or DEFAULT_APPLICATION_URI
    client.connection_lost_callback = on_lost
    # A reconnect makes a new session, so the old one should not linger long on the server.
    client.session_timeout = int(opts.session_timeout_s * 1000)
    try:
        await _configure(client, opts)
        async with asyncio.timeout(timeouts.connect_s):
            await client.connect(auto_reconnect=False)
    except BaseException as exc:
        await dispose(client, timeouts)
        if isinstance(exc, asyncio.CancelledError):
            raise
        error = translate(exc, opts, "connect")
        if error.retriable and opts.server_certificate is not None:
            # A server whose certificate is not the pinned one cannot decrypt our handshake and
            # just stays silent; ask it (unsecured GetEndpoints) which certificate it has.
            await _check_pinned_certificate(opts, timeouts)
        raise error from exc
    return client


async def _check_pinned_certificate(opts: OpcUaOptions, timeouts: Timeouts) -> None:
    """Raise a non-retriable ``ConnectError`` if the server presents another certificate."""
    assert opts.server_certificate is not None
    probe = Client(opts.endpoint, timeout=timeouts.io_s)
    try:
        pinned = (await uacrypto.load_certificate(opts.server_certificate)).public_bytes(
            Encoding.DER
        )
        async with asyncio.timeout(timeouts.io_s):
            endpoints = await probe.connect_and_get_server_endpoints()
    except Exception:
        return  # the server is unreachable: the original error says enough
    presented = [bytes(ep.ServerCertificate) for ep in endpoints if ep.ServerCertificate]
    if presented and not any(cert.startswith(pinned) for cert in presented):
        raise ConnectError(
            f"{opts.endpoint}: connect: the server's certificate is not the trusted "
            f"server_certificate {opts.server_certificate}",
            retriable=False,
        )


async def dispose(client: Client, timeouts: Timeouts) -> None:
    """Close ``client`` whatever state it is in, within the I/O timeout; never raises."""
    try:
        async with asyncio.timeout(timeouts.io_s):
            await client.disconnect()
    except Exception:
        # The connection may be half-open or gone; what matters is that its tasks and socket end.
        with contextlib.suppress(Exception):
            client.disconnect_socket()
