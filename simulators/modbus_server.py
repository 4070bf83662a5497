"""Simulated Modbus devices on a real port: TCP, RTU over TCP, or RTU on a serial line.

    async with ModbusSimServer([sim_device_a, sim_device_b]) as server:
        driver = ModbusDriver.from_url(server.endpoint, timeouts=Timeouts())

Every ``SimDevice`` is one unit id (its entry's ``unit_id``, else its profile's) answering its
profile's register map with values taken at the moment of each request (see
``simulators.modbus.unit``). As a program it serves until SIGTERM or SIGINT:

    python -m simulators.modbus_server --profile gd-h2s-mb --unit-id 1 --port 5020
    python -m simulators.modbus_server --profile gd-h2s-mb --unit-id 7 --rtu /dev/pts/5 --baudrate 19200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from device_profiles import Catalog, DeviceEntry, ProfileError
from simulators.device import SimDevice
from simulators.modbus import ProfileUnit, UnitServer
from simulators.modbus.serving import Framer
from simulators.serving_process import serve_until_signalled

__all__ = ["ModbusSimServer", "main"]


class ModbusSimServer(UnitServer):
    """Serve ``devices`` (``simulators.device.SimDevice``) as Modbus units on one port.

    ``port=0`` binds a free port; ``.port`` holds the real one after ``start()``, ``.endpoint`` the
    URL a driver uses. ``framer="rtu"`` with no ``serial_port`` is RTU framing over TCP.
    """

    def __init__(
        self,
        devices: Sequence[SimDevice],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framer: Framer = "tcp",
        serial_port: str | None = None,
        baudrate: int = 19200,
        parity: str = "E",
    ) -> None:
        self.devices = list(devices)
        super().__init__(
            [ProfileUnit(d) for d in self.devices],
            host=host,
            port=port,
            framer=framer,
            serial_port=serial_port,
            baudrate=baudrate,
            parity=parity,
        )

    async def __aenter__(self) -> ModbusSimServer:
        await self.start()
        return self


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.modbus_server",
        description="Serve simulated Modbus devices (from device profiles) until SIGTERM.",
    )
    parser.add_argument(
        "--profile",
        action="append",
        required=True,
        metavar="ID",
        help="device profile id (repeat for several devices on one port)",
    )
    parser.add_argument(
        "--unit-id",
        action="append",
        type=int,
        default=[],
        metavar="N",
        help="unit id per --profile, in order; one value with several profiles counts up from it "
        "(default: the profile's unit id)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free port)")
    parser.add_argument(
        "--framer",
        choices=["tcp", "rtu"],
        default="tcp",
        help="framing on TCP: Modbus TCP, or RTU frames over TCP (default tcp)",
    )
    parser.add_argument("--rtu", metavar="DEVICE", help="serve RTU on this serial device instead")
    parser.add_argument("--baudrate", type=int, default=19200, help="serial baud rate")
    parser.add_argument("--parity", choices=["N", "E", "O"], default="E", help="serial parity")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated signals")
    parser.add_argument(
        "--profiles-dir", action="append", default=[], help="extra folder of device profiles"
    )
    return parser


def _devices(args: argparse.Namespace, url: str) -> list[SimDevice]:
    catalog = Catalog(args.profiles_dir)
    ids: list[int | None]
    if not args.unit_id:
        ids = [None] * len(args.profile)
    elif len(args.unit_id) == 1:
        ids = [args.unit_id[0] + i for i in range(len(args.profile))]
    elif len(args.unit_id) == len(args.profile):
        ids = list(args.unit_id)
    else:
        raise SystemExit(
            f"error: {len(args.unit_id)} --unit-id values for {len(args.profile)} --profile values; "
            f"give one (counted up) or one per profile"
        )
    devices = []
    for i, (profile_id, unit_id) in enumerate(zip(args.profile, ids, strict=True)):
        try:
            profile = catalog.profile(profile_id)
        except (KeyError, ProfileError) as exc:
            raise SystemExit(f"error: --profile {profile_id}: {exc}") from exc
        entry = DeviceEntry(
            id=f"{profile_id}-{i + 1}", profile=profile_id, url=url, unit_id=unit_id
        )
        devices.append(SimDevice(entry=entry, profile=profile, seed=args.seed))
    return devices


async def _serve(args: argparse.Namespace) -> None:
    framer: Framer = "rtu" if args.rtu else args.framer
    devices = _devices(args, url="modbus+sim://")
    server = ModbusSimServer(
        devices,
        host=args.host,
        port=args.port,
        framer=framer,
        serial_port=args.rtu,
        baudrate=args.baudrate,
        parity=args.parity,
    )

    def banner() -> str:
        units = ", ".join(
            f"{d.profile.id}@{u.unit_id}" for d, u in zip(devices, server.units, strict=True)
        )
        return f"serving {units} on {server.endpoint}"

    await serve_until_signalled(server, banner)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
