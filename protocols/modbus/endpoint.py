"""Where a Modbus device is and how its bytes are framed, parsed from the device URL.

    modbus+tcp://host:port                     Modbus TCP (MBAP framing)
    modbus+rtu-tcp://host:port                 RTU frames over TCP (serial device servers)
    modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=N&stopbits=1&bytesize=8
                                               RTU on a serial line (pyserial)

A port is required on the TCP forms (no silent default of 502: a wrong port should fail loudly
at load). Serial parameters default to 19200 baud, even parity, one stop bit, eight data bits
(Modbus over Serial Line V1.02 §2.5.1: "even parity is required", 19200 baud the default), and
a URL may give any of them; anything else in the URL is an error that names it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from protocols.errors import ConfigError

__all__ = ["BAUDRATES", "Endpoint", "Framing", "parse_url"]

# Rates pyserial and common RS-485 adapters support; anything else is almost always a typo.
BAUDRATES = (1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
_PARITIES = {"N": "none", "E": "even", "O": "odd"}


class Framing(enum.StrEnum):
    TCP = "tcp"  # MBAP header, transaction ids
    RTU = "rtu"  # unit id + PDU + CRC16, no transaction ids


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed device URL. ``serial_port`` is set for serial lines, ``host``/``port`` otherwise."""

    url: str
    framing: Framing
    host: str = ""
    port: int = 0
    serial_port: str = ""
    baudrate: int = 19200
    parity: str = "E"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def is_serial(self) -> bool:
        return bool(self.serial_port)


def parse_url(url: str) -> Endpoint:
    """Parse a ``modbus+tcp``, ``modbus+rtu-tcp`` or ``modbus+rtu`` URL; ``ConfigError`` if bad."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"device URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if parts.username or parts.password:
        raise ConfigError(f"device URL {url!r}: Modbus has no credentials; remove 'user@'")
    if parts.fragment:
        raise ConfigError(f"device URL {url!r}: unexpected fragment '#{parts.fragment}'")
    if scheme in ("modbus+tcp", "modbus+rtu-tcp"):
        if not parts.hostname:
            raise ConfigError(f"device URL {url!r}: missing host (expected {scheme}://host:port)")
        if port is None:
            raise ConfigError(
                f"device URL {url!r}: missing port (expected {scheme}://{parts.hostname}:502)"
            )
        if port == 0:
            raise ConfigError(f"device URL {url!r}: port 0 is not a port to connect to")
        if parts.path not in ("", "/"):
            raise ConfigError(f"device URL {url!r}: unexpected path {parts.path!r}")
        if parts.query:
            raise ConfigError(
                f"device URL {url!r}: unexpected query {parts.query!r}; a {scheme} URL takes "
                f"only host and port (options go in the device's options)"
            )
        framing = Framing.TCP if scheme == "modbus+tcp" else Framing.RTU
        return Endpoint(url=url, framing=framing, host=parts.hostname, port=port)
    if scheme == "modbus+rtu":
        if parts.netloc:
            raise ConfigError(
                f"device URL {url!r}: a serial URL has no host; write modbus+rtu:///dev/ttyUSB0 "
                f"(three slashes)"
            )
        device = unquote(parts.path)
        if not device or device == "/":
            raise ConfigError(
                f"device URL {url!r}: missing serial device (e.g. modbus+rtu:///dev/ttyUSB0)"
            )
        serial = _serial(url, parts.query)
        return Endpoint(
            url=url,
            framing=Framing.RTU,
            serial_port=device,
            baudrate=int(serial.get("baudrate", 19200)),
            parity=str(serial.get("parity", "E")),
            stopbits=int(serial.get("stopbits", 1)),
            bytesize=int(serial.get("bytesize", 8)),
        )
    raise ConfigError(
        f"device URL {url!r}: scheme {scheme!r} is not Modbus "
        f"(expected modbus+tcp://, modbus+rtu-tcp:// or modbus+rtu://)"
    )


def _serial(url: str, query: str) -> dict[str, int | str]:
    out: dict[str, int | str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigError(f"device URL {url!r}: query {query!r} does not parse: {exc}") from exc
    for name, raw in pairs:
        if name in out:
            raise ConfigError(f"device URL {url!r}: {name} is given twice")
        if name == "baudrate":
            rate = _int(url, name, raw)
            if rate not in BAUDRATES:
                raise ConfigError(
                    f"device URL {url!r}: baudrate={raw!r} is not a serial rate; expected one "
                    f"of {', '.join(map(str, BAUDRATES))}"
                )
            out[name] = rate
        elif name == "parity":
            parity = raw.upper()
            if parity not in _PARITIES:
                raise ConfigError(
                    f"device URL {url!r}: parity={raw!r}; expected N (none), E (even) or O (odd)"
                )
            out[name] = parity
        elif name == "stopbits":
            stop = _int(url, name, raw)
            if stop not in (1, 2):
                raise ConfigError(f"device URL {url!r}: stopbits={raw!r}; expected 1 or 2")
            out[name] = stop
        elif name == "bytesize":
            size = _int(url, name, raw)
            if size != 8:
                # Modbus over Serial Line V1.02 §2.5.1: RTU characters have 8 data bits.
                raise ConfigError(
                    f"device URL {url!r}: bytesize={raw!r}; Modbus RTU uses 8 data bits"
                )
            out[name] = size
        else:
            raise ConfigError(
                f"device URL {url!r}: unknown parameter {name!r}; known: baudrate, parity, "
                f"stopbits, bytesize"
            )
    return out


def _int(url: str, name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"device URL {url!r}: {name}={raw!r} is not an integer") from None
