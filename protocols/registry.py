"""Find a driver by URL scheme.

Built-in drivers are a literal table; other packages add theirs through the ``hse.drivers``
entry-point group (name = scheme, value = ``"module:Class"``). Modules are imported only when a
URL with their scheme is opened, so an edge gateway without, say, asyncua can still poll Modbus.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlsplit

from .driver import Driver, Timeouts
from .errors import ConfigError, MissingExtraError, UnknownSchemeError

ENTRY_POINT_GROUP = "hse.drivers"

BUILTIN_DRIVERS: dict[str, str] = {
    "modbus+tcp": "protocols.modbus.driver:ModbusDriver",
    "modbus+rtu": "protocols.modbus.driver:ModbusDriver",
    "modbus+rtu-tcp": "protocols.modbus.driver:ModbusDriver",
    "opc.tcp": "protocols.opcua.driver:OpcUaDriver",
    "mqtt": "protocols.mqtt.driver:MqttDriver",
    "mqtts": "protocols.mqtt.driver:MqttDriver",
}

# Which extra provides the library each built-in module needs.
_EXTRA_FOR_MODULE = {
    "protocols.modbus.driver": "edge",
    "protocols.opcua.driver": "edge",
    "protocols.mqtt.driver": "edge",
}


def known_schemes() -> dict[str, str]:
    """Every scheme a URL may use, built-in and from entry points."""
    schemes = dict(BUILTIN_DRIVERS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        schemes.setdefault(ep.name, ep.value)
    return schemes


def scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if not scheme:
        raise ConfigError(
            f"device URL {url!r} has no scheme (expected e.g. 'modbus+tcp://host:502')"
        )
    return scheme


def driver_class(url: str) -> type[Any]:
    """The class that serves ``url``; raises ``UnknownSchemeError`` or ``MissingExtraError``."""
    scheme = scheme_of(url)
    schemes = known_schemes()
    target = schemes.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in sorted(schemes))
        raise UnknownSchemeError(
            f"no driver for scheme {scheme!r} in {url!r}; known schemes: {known}"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = _EXTRA_FOR_MODULE.get(module_name)
        fix = (
            f"pip install 'hse-sensor-platform[{extra}]'"
            if extra
            else "install the package providing it"
        )
        raise MissingExtraError(
            f"driver for {scheme}:// needs the module {exc.name!r}, which is not installed: {fix}"
        ) from exc
    cls: type[Any] = getattr(module, attr)
    return cls


def open_driver(url: str, *, timeouts: Timeouts | None = None, **options: Any) -> Driver:
    """Build (not connect) the driver for ``url``; options are the driver's own keywords."""
    cls = driver_class(url)
    driver: Driver = cls.from_url(url, timeouts=timeouts or Timeouts(), **options)
    return driver
