"""Simulated devices served over OPC UA (asyncua server), for tests and the demo.

Each device's profile points are variables at their ``opcua.node_id`` (``{device}`` replaced by the
device id, namespace index 2), under an object per device. A task refreshes every value from
``SimDevice.wire_value`` each ``update_interval_s`` with a SourceTimestamp from the device's wall
clock. A device that is off line keeps its last value with status BadNoCommunication; a test can
force any status on a node (``set_status``) or hold a value (``hold``). A value a client writes is
held the same way (like a device's output register), until ``release``.

``python -m simulators.opcua_server --profile <id> --device-id X --port P`` serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import structlog
from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto import uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import BadCertificateUntrusted
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from device_profiles import Catalog, DeviceEntry
from simulators.device import SimDevice
from simulators.serving_process import read_users_file, serve_until_signalled

NAMESPACE_URI = "urn:hse-sensor-platform:simulator"
NAMESPACE_INDEX = 2  # the first namespace a server registers after its own two
BAD_NO_COMMUNICATION = 0x80310000  # OPC UA Part 8: no communication with the data source

Security = Literal["none", "basic256sha256"]
log = structlog.get_logger("simulators.opcua")


class _Users(UserManager):
    """asyncua user manager: the given name/password pairs, compared in constant time."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        expected = self._users.get(username or "")
        if expected is None or password is None:
            return None
        if hmac.compare_digest(expected.encode(), password.encode()):
            return User(role=UserRole.User, name=username)
        return None


@dataclass
class _Node:
    device: SimDevice
    point_id: str
    node_id: ua.NodeId
    vtype: ua.VariantType = ua.VariantType.Double
    value: float = 0.0
    status: int | None = None  # forced status code
    held: float | None = None


_INTEGER_RANGES = {
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
}


def on_wire(value: float, vtype: ua.VariantType) -> bool | int | float:
    """``value`` as a device serving ``vtype`` would hold it: integers rounded and clamped to
    the type (a real transmitter saturates), a flag set when non-zero, floats as they are."""
    if vtype == ua.VariantType.Boolean:
        return value != 0
    limits = _INTEGER_RANGES.get(vtype)
    if limits is not None:
        return min(max(round(value), limits[0]), limits[1])
    return value


def node_id_text(template: str, device_id: str) -> str:
    """A profile's node id with ``{device}`` filled in."""
    return template.replace("{device}", device_id)


def _application_uri(certificate: x509.Certificate) -> str | None:
    with contextlib.suppress(x509.ExtensionNotFound):
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
        if uris:
            return str(uris[0])
    return None


class OpcUaSimServer:
    """An OPC UA server for ``devices`` on ``host:port`` (0: a free port; see ``endpoint``)."""

    def __init__(
        self,
        devices: Sequence[SimDevice],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/hse/sim",
        security: Security = "none",
        certificate: Path | str | None = None,
        private_key: Path | str | None = None,
        users: dict[str, str] | None = None,
        trusted_client_certificates: Sequence[Path | str] = (),
        update_interval_s: float = 0.1,
    ) -> None:
        if security not in ("none", "basic256sha256"):
            raise ValueError(f"security={security!r} must be 'none' or 'basic256sha256'")
        if security != "none" and (certificate is None or private_key is None):
            raise ValueError(f"security={security!r} needs certificate and private_key")
        if update_interval_s <= 0:
            raise ValueError(f"update_interval_s={update_interval_s} must be positive")
        self.devices = list(devices)
        self.host = host
        self.port = port
        self.path = path
        self.security: Security = security
        self.certificate = Path(certificate) if certificate else None
        self.private_key = Path(private_key) if private_key else None
        self.users = dict(users) if users else None
        self.trusted_client_certificates = [Path(p) for p in trusted_client_certificates]
        self.update_interval_s = update_interval_s
        self._server: Server | None = None
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._by_node_id: dict[ua.NodeId, _Node] = {}
        self._updater: asyncio.Task[None] | None = None
        self._trusted: set[bytes] = set()

    @property
    def endpoint(self) -> str:
        """The server's URL (with the bound port once started)."""
        return f"opc.tcp://{self.host}:{self.port}{self.path}"

    def node_id(self, device_id: str, point_id: str) -> str:
        """The node id string a client uses for ``point_id`` of ``device_id``."""
        return self._nodes[(device_id, point_id)].node_id.to_string()

    async def __aenter__(self) -> OpcUaSimServer:
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
        server = Server(user_manager=_Users(self.users) if self.users else None)
        await server.init()
        server.disable_clock(True)  # the clock task only slows stop() down; nothing here reads it
        server.set_server_name("HSE device simulator")
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}{self.path}")
        await self._configure_security(server)
        index = await server.register_namespace(NAMESPACE_URI)
        if index != NAMESPACE_INDEX:
            raise RuntimeError(f"simulator namespace got index {index}, expected {NAMESPACE_INDEX}")
        for device in self.devices:
            await self._add_device(server, device)
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_client_write)
        self._server = server
        await self._refresh()
        await server.start()
        if self.port == 0 and server.bserver is not None:
            self.port = server.bserver.port
        self._updater = asyncio.create_task(self._update_loop(), name="opcua-sim.update")
        log.info("opcua_sim.started", endpoint=self.endpoint, devices=[d.id for d in self.devices])

    async def _configure_security(self, server: Server) -> None:
        if self.certificate is not None and self.private_key is not None:
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            certificate = await uacrypto.load_certificate(self.certificate)
            uri = _application_uri(certificate)
            if uri:
                await server.set_application_uri(uri)
        if self.security == "basic256sha256":
            server.set_security_policy(
                [
                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                ]
            )
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        tokens: list[type] = (
            [ua.UserNameIdentityToken] if self.users else [ua.AnonymousIdentityToken]
        )
        server.set_identity_tokens(tokens)
        for path in self.trusted_client_certificates:
            certificate = await uacrypto.load_certificate(path)
            self._trusted.add(certificate.public_bytes(Encoding.DER))
        if self._trusted:
            server.set_certificate_validator(self._validate_client)

    async def _validate_client(
        self, certificate: x509.Certificate, app_description: ua.ApplicationDescription
    ) -> None:
        if certificate.public_bytes(Encoding.DER) not in self._trusted:
            raise BadCertificateUntrusted()  # type: ignore[no-untyped-call]

    async def _add_device(self, server: Server, device: SimDevice) -> None:
        folder = await server.nodes.objects.add_object(
            ua.NodeId(ua.String(f"devices/{device.id}"), ua.Int16(NAMESPACE_INDEX)),
            ua.QualifiedName(device.id, NAMESPACE_INDEX),
        )
        for point in device.profile.points:
            if point.opcua is None:
                continue
            node_id = ua.NodeId.from_string(node_id_text(point.opcua.node_id, device.id))
            if node_id.NamespaceIndex != NAMESPACE_INDEX:
                raise ValueError(
                    f"profile {device.profile.id!r} point {point.id!r}: node_id "
                    f"{point.opcua.node_id!r} must be in namespace {NAMESPACE_INDEX}"
                )
            vtype = ua.VariantType[point.opcua.data_type.value]
            variable = await folder.add_variable(
                node_id, ua.QualifiedName(point.id, NAMESPACE_INDEX), on_wire(0.0, vtype), vtype
            )
            await variable.set_writable()
            eu_range = self._eu_range(device, point.id)
            if eu_range is not None:
                # Part 8 §5.3.2: EURange lets a client use a percent deadband.
                await variable.add_property(
                    ua.NodeId(
                        ua.String(f"{node_id.to_string()}.EURange"), ua.Int16(NAMESPACE_INDEX)
                    ),
                    "EURange",
                    ua.Range(Low=eu_range[0], High=eu_range[1]),
                )
            node = _Node(device, point.id, node_id, vtype)
            self._nodes[(device.id, point.id)] = node
            self._by_node_id[node_id] = node

    @staticmethod
    def _eu_range(device: SimDevice, point_id: str) -> tuple[float, float] | None:
        point = device.profile.point(point_id)
        if point.range is None or point.opcua is None:
            return None
        low, high = point.range
        if point.loop is not None:
            low, high = point.loop.low_ma, point.loop.high_ma
        scale, offset = point.opcua.scale, point.opcua.offset
        ends = sorted(((low - offset) / scale, (high - offset) / scale))
        return ends[0], ends[1]

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(self.update_interval_s)
            await self._refresh()

    async def _refresh(self) -> None:
        """Write every node's current value, status and SourceTimestamp."""
        server = self._server
        if server is None:
            return
        for node in self._nodes.values():
            device = node.device
            if node.held is not None:
                node.value = node.held
            elif device.online:
                node.value = device.wire_value(node.point_id)
            code = node.status
            if code is None and not device.online:
                code = BAD_NO_COMMUNICATION
            stamp = ua.DateTime.fromtimestamp(device.wall_clock(), UTC)
            # A Bad status keeps the last value in the Variant: asyncua's server deadband filter
            # cannot compare a null value, and a client must not use a Bad value anyway.
            await server.write_attribute_value(
                node.node_id,
                ua.DataValue(
                    ua.Variant(on_wire(node.value, node.vtype), node.vtype),
                    ua.StatusCode(ua.UInt32(code or 0)),
                    SourceTimestamp=stamp,
                    ServerTimestamp=ua.DateTime.now(UTC),
                ),
            )

    async def _on_client_write(self, event: ServerItemCallback, dispatcher: Any) -> None:
        results = event.response_params or []
        for write, status in zip(event.request_params.NodesToWrite, results, strict=False):
            node = self._by_node_id.get(write.NodeId)
            if node is None or write.AttributeId != AttributeIds.Value or not status.is_good():
                continue
            value = write.Value.Value.Value if write.Value and write.Value.Value else None
            if isinstance(value, bool | int | float):
                node.held = float(value)
                node.value = float(value)

    def set_status(self, device_id: str, point_id: str, code: int | None) -> None:
        """Force ``code`` on a point's node from the next refresh (``None``: back to normal)."""
        self._nodes[(device_id, point_id)].status = code

    def hold(self, device_id: str, point_id: str, value: float) -> None:
        """Serve ``value`` (wire units) for the point instead of its signal, until ``release``."""
        self._nodes[(device_id, point_id)].held = value

    def release(self, device_id: str, point_id: str) -> None:
        self._nodes[(device_id, point_id)].held = None

    async def refresh_now(self) -> None:
        """Write current values at once instead of waiting for the next tick."""
        await self._refresh()

    async def stop(self) -> None:
        """Stop serving; closes sessions that clients left open so no task outlives the server."""
        if self._updater is not None:
            self._updater.cancel()
            await asyncio.wait([self._updater])
            self._updater = None
        server, self._server = self._server, None
        if server is None:
            return
        await server.stop()
        # Sessions with subscriptions outlive their connection (Part 4 §6.7); end them here.
        for session in list(server.iserver._external_sessions.values()):
            with contextlib.suppress(Exception):
                await session.close_session(True)
        log.info("opcua_sim.stopped", endpoint=self.endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="device profile id")
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--profile-dir", action="append", default=[], help="extra profile folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/hse/sim")
    parser.add_argument("--security", choices=["none", "basic256sha256"], default="none")
    parser.add_argument("--cert", type=Path, help="server certificate (PEM or DER)")
    parser.add_argument("--key", type=Path, help="server private key (PEM)")
    parser.add_argument("--trust-client-cert", type=Path, action="append", default=[])
    parser.add_argument("--users-file", type=Path, help="lines of user:password (never argv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--update-interval-s", type=float, default=0.1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    catalog = Catalog(args.profile_dir)
    profile = catalog.profile(args.profile)
    url = f"opc.tcp://{args.host}:{args.port}{args.path}"
    entry = DeviceEntry(id=args.device_id, profile=profile.id, url=url)
    device = SimDevice(entry, profile, seed=args.seed)
    server = OpcUaSimServer(
        [device],
        host=args.host,
        port=args.port,
        path=args.path,
        security=args.security,
        certificate=args.cert,
        private_key=args.key,
        users=read_users_file(args.users_file) if args.users_file else None,
        trusted_client_certificates=args.trust_client_cert,
        update_interval_s=args.update_interval_s,
    )

    asyncio.run(serve_until_signalled(server, lambda: f"serving {server.endpoint}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
