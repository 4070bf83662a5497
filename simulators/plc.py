"""A safety PLC over Modbus TCP: interlock outputs guarded by a heartbeat watchdog.

The register map is the profile ``plc-safety-mb``: coils for the interlock outputs (ventilation
fan, door lock, beacon, shutdown valve) and a ``reset`` coil, holding registers for the analog
outputs and the ``heartbeat``, a ``tripped`` discrete input and a ``trip_count`` input register.

The agent drives outputs by writing them, and must write a *different* heartbeat value at least
every ``watchdog_s`` seconds (the watchdog is armed at start). When the heartbeat stops changing
the watchdog trips: every output goes to its declared safe state (``PlcOutput.safe``) at once,
``tripped`` reads 1, and writes to outputs are refused with exception 04 (server device failure)
until the heartbeat has changed again *and* ``reset`` is written 1 (a reset while the heartbeat
is still stale is refused with 04 too). Outputs stay at their safe values after a reset until
the agent drives them. Heartbeat writes are always accepted.

Every output change is kept with its ``time.monotonic()`` timestamp and cause (``write`` or
``trip``) in ``changes``, so a benchmark can measure "value crossed HH" -> "coil set".

    async with SafetyPlcSim(watchdog_s=2.0) as plc:
        plc.endpoint, plc.point("fan_run"), plc.outputs, plc.tripped, plc.changes

    python -m simulators.plc --port 5021 --watchdog-s 2
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from device_profiles import Catalog, DeviceEntry, DeviceProfile
from device_profiles.resolve import driver_spec
from protocols.errors import ProtocolError
from protocols.modbus import ModbusPoint, Table, decode, encode
from simulators.modbus import UnitServer
from simulators.modbus.unit import ILLEGAL_ADDRESS, SERVER_DEVICE_FAILURE, Items
from simulators.serving_process import serve_until_signalled

__all__ = ["DEFAULT_OUTPUTS", "OutputChange", "PlcOutput", "PlcUnit", "SafetyPlcSim", "main"]

PROFILE_ID = "plc-safety-mb"
# Not from a standard: the watchdog period is a plant's design choice (a few agent poll
# intervals). 5 s keeps the simulator's default tolerant of a loaded test machine.
DEFAULT_WATCHDOG_S = 5.0

OutputValue = bool | int | float


@dataclass(frozen=True, slots=True)
class PlcOutput:
    """An output point of the PLC profile, its safe state and its value at power-up."""

    point_id: str
    safe: OutputValue
    initial: OutputValue


# Safe states follow the usual fail-safe design of gas interlocks: ventilate, warn, let people
# out, isolate the process.
DEFAULT_OUTPUTS: tuple[PlcOutput, ...] = (
    PlcOutput("fan_run", safe=True, initial=False),
    PlcOutput("door_lock", safe=False, initial=True),
    PlcOutput("beacon", safe=True, initial=False),
    PlcOutput("shutdown_valve_open", safe=False, initial=True),
    PlcOutput("fan_speed_pct", safe=100, initial=30),
    PlcOutput("damper_open_pct", safe=100, initial=20),
)


@dataclass(frozen=True, slots=True)
class OutputChange:
    """One change of one output: new value, ``time.monotonic()`` when it changed, and why."""

    point_id: str
    value: OutputValue
    t: float
    cause: Literal["write", "trip"]


class PlcUnit:
    """The PLC's logic as a Modbus unit (``simulators.modbus.ModbusUnit``)."""

    def __init__(
        self,
        profile: DeviceProfile,
        outputs: Sequence[PlcOutput],
        *,
        watchdog_s: float,
        unit_id: int | None = None,
        heartbeat_point: str = "heartbeat",
        reset_point: str = "reset",
        tripped_point: str = "tripped",
        trip_count_point: str = "trip_count",
        clock: Callable[[], float] = time.monotonic,
        on_heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        if watchdog_s <= 0:
            raise ValueError(f"watchdog_s={watchdog_s} must be positive")
        entry = DeviceEntry(
            id="plc", profile=profile.id, url="modbus+tcp://plc:502", unit_id=unit_id
        )
        self.specs: dict[str, ModbusPoint] = {}
        for p in profile.points:
            resolved = driver_spec(profile, p, entry)
            assert isinstance(resolved, ModbusPoint)
            self.specs[p.id] = resolved
        roles = {
            "heartbeat_point": (heartbeat_point, Table.HOLDING),
            "reset_point": (reset_point, Table.COIL),
            "tripped_point": (tripped_point, Table.DISCRETE_INPUT),
            "trip_count_point": (trip_count_point, Table.INPUT),
        }
        for role, (point_id, table) in roles.items():
            if point_id not in self.specs or self.specs[point_id].table is not table:
                raise ValueError(
                    f"profile {profile.id!r}: {role}={point_id!r} must be a {table.value} point"
                )
        self.outputs_config = {o.point_id: o for o in outputs}
        for o in outputs:
            output_spec = self.specs.get(o.point_id)
            if (
                output_spec is None
                or not output_spec.table.writable
                or o.point_id in (heartbeat_point, reset_point)
            ):
                raise ValueError(
                    f"profile {profile.id!r}: output {o.point_id!r} must be a coil or holding "
                    f"point other than the heartbeat and reset"
                )
            for label, value in (("safe", o.safe), ("initial", o.initial)):
                try:
                    encode(output_spec, value)
                except ProtocolError as exc:
                    raise ValueError(f"output {o.point_id!r}: {label}={value!r}: {exc}") from exc
        self._unit_id = next(iter(self.specs.values())).unit_id
        self.watchdog_s = watchdog_s
        self.heartbeat_point, self.reset_point = heartbeat_point, reset_point
        self.tripped_point, self.trip_count_point = tripped_point, trip_count_point
        self._clock = clock
        self._on_heartbeat = on_heartbeat
        self.output_values: dict[str, OutputValue] = {o.point_id: o.initial for o in outputs}
        self.heartbeat: OutputValue = 0
        self.last_heartbeat_change = clock()
        self.tripped = False
        self.tripped_at: float | None = None
        self.trip_count = 0
        self.changes: list[OutputChange] = []
        self._log = structlog.get_logger("simulators.plc").bind(unit_id=self._unit_id)
        self._by_table: dict[Table, list[ModbusPoint]] = {t: [] for t in Table}
        for spec in self.specs.values():
            self._by_table[spec.table].append(spec)

    @property
    def unit_id(self) -> int:
        return self._unit_id

    def extent(self, table: Table) -> tuple[int, int] | None:
        specs = self._by_table[table]
        if not specs:
            return None
        return min(s.address for s in specs), max(s.address + s.width - 1 for s in specs)

    def heartbeat_alive(self, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        return now - self.last_heartbeat_change < self.watchdog_s

    def check_watchdog(self, now: float | None = None) -> None:
        """Trip if the heartbeat has not changed for ``watchdog_s``."""
        now = self._clock() if now is None else now
        if not self.tripped and not self.heartbeat_alive(now):
            self.trip(now)

    def trip(self, now: float | None = None) -> None:
        """Put every output in its safe state and refuse outputs until reset."""
        now = self._clock() if now is None else now
        self.tripped, self.tripped_at = True, now
        self.trip_count += 1
        for point_id, config in self.outputs_config.items():
            self._set(point_id, config.safe, now, "trip")
        self._log.warning(
            "watchdog_trip", heartbeat_age_s=round(now - self.last_heartbeat_change, 3)
        )

    def _value_of(self, point_id: str) -> OutputValue:
        if point_id in self.output_values:
            return self.output_values[point_id]
        if point_id == self.heartbeat_point:
            return self.heartbeat
        if point_id == self.tripped_point:
            return self.tripped
        if point_id == self.trip_count_point:
            return min(self.trip_count, 0xFFFF)
        return 0  # the reset coil reads 0; other profile points have no logic behind them

    def check_read(self, table: Table, address: int, count: int) -> int | None:
        extent = self.extent(table)
        if extent is None or address < extent[0] or address + count - 1 > extent[1]:
            return ILLEGAL_ADDRESS
        return None

    def read(self, table: Table, address: int, count: int) -> Items | int:
        """``check_read`` then ``values``: what a client gets."""
        code = self.check_read(table, address, count)
        return code if code is not None else self.values(table, address, count)

    def values(self, table: Table, address: int, count: int) -> Items:
        last = address + count - 1
        out: list[int] = [0] * count
        for spec in self._by_table[table]:
            if spec.address > last or spec.address + spec.width - 1 < address:
                continue
            wire = encode(spec, self._value_of(spec.key))
            if isinstance(wire, bool):
                if spec.bit is not None:
                    out[spec.address - address] |= int(wire) << spec.bit
                else:
                    out[spec.address - address] = int(wire)
                continue
            for k, register in enumerate(wire):
                if address <= spec.address + k <= last:
                    out[spec.address + k - address] = register
        return [bool(v) for v in out] if table.is_bit_table else out

    def write(self, table: Table, address: int, values: Items) -> int | None:
        last = address + len(values) - 1
        touched = [
            s
            for s in self._by_table[table]
            if s.address <= last and s.address + s.width - 1 >= address
        ]
        covered = {a for s in touched for a in range(s.address, s.address + s.width)}
        if not touched or any(a not in covered for a in range(address, last + 1)):
            return ILLEGAL_ADDRESS
        updates: dict[str, OutputValue] = {}
        for spec in touched:
            if (
                spec.address < address
                or spec.address + spec.width - 1 > last
                or spec.bit is not None
            ):
                return ILLEGAL_ADDRESS  # a partial write of a multi-register point or a bit
            words = values[spec.address - address : spec.address - address + spec.width]
            try:
                value = decode(spec, words)
            except ProtocolError:
                return ILLEGAL_ADDRESS
            if value is None or isinstance(value, str):
                return ILLEGAL_ADDRESS
            updates[spec.key] = value
        now = self._clock()
        if self.tripped and any(k in self.outputs_config for k in updates):
            self._log.info("output_refused_tripped", points=sorted(updates))
            return SERVER_DEVICE_FAILURE
        if updates.get(self.reset_point) and self.tripped:
            resumed = (
                self.tripped_at is not None
                and self.last_heartbeat_change > self.tripped_at
                and self.heartbeat_alive(now)
            )
            if not resumed:
                self._log.info("reset_refused_heartbeat_stale")
                return SERVER_DEVICE_FAILURE
        for point_id, value in updates.items():
            if point_id == self.heartbeat_point:
                if value != self.heartbeat:
                    self.heartbeat, self.last_heartbeat_change = value, now
                    self._on_heartbeat()
            elif point_id == self.reset_point:
                if value and self.tripped:
                    self.tripped = False
                    self._log.info("reset")
            elif point_id in self.outputs_config:
                self._set(point_id, value, now, "write")
        return None

    def _set(
        self, point_id: str, value: OutputValue, now: float, cause: Literal["write", "trip"]
    ) -> None:
        if self.output_values.get(point_id) != value:
            self.output_values[point_id] = value
            self.changes.append(OutputChange(point_id, value, now, cause))


class SafetyPlcSim:
    """The PLC on a Modbus TCP port, with its watchdog timer on the running event loop."""

    def __init__(
        self,
        profile: DeviceProfile | None = None,
        outputs: Sequence[PlcOutput] = DEFAULT_OUTPUTS,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        watchdog_s: float = DEFAULT_WATCHDOG_S,
        unit_id: int | None = None,
    ) -> None:
        self.profile = profile or Catalog().profile(PROFILE_ID)
        self.unit = PlcUnit(
            self.profile, outputs, watchdog_s=watchdog_s, unit_id=unit_id, on_heartbeat=self._rearm
        )
        self.server = UnitServer([self.unit], host=host, port=port, framer="tcp")
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def watchdog_s(self) -> float:
        return self.unit.watchdog_s

    @property
    def outputs(self) -> dict[str, OutputValue]:
        """Current value of every output, by point id."""
        return dict(self.unit.output_values)

    @property
    def tripped(self) -> bool:
        return self.unit.tripped

    @property
    def changes(self) -> list[OutputChange]:
        """Every output change since start, oldest first."""
        return list(self.unit.changes)

    def point(self, point_id: str) -> ModbusPoint:
        """The driver's point spec for ``point_id`` of the PLC profile."""
        return self.unit.specs[point_id]

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.server.start()
        self.unit.last_heartbeat_change = time.monotonic()  # armed from the moment it serves
        self._rearm()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.server.stop()

    async def __aenter__(self) -> SafetyPlcSim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _rearm(self) -> None:
        """Schedule the watchdog check at the heartbeat's deadline."""
        if self._loop is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = self.unit.last_heartbeat_change + self.unit.watchdog_s - time.monotonic()
        self._timer = self._loop.call_later(max(delay, 0.0), self._expire)

    def _expire(self) -> None:
        self._timer = None
        self.unit.check_watchdog()
        if not self.unit.tripped:
            self._rearm()  # the heartbeat moved in the meantime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.plc",
        description="Serve the simulated safety PLC (profile plc-safety-mb) until SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free port)")
    parser.add_argument(
        "--watchdog-s",
        type=float,
        default=DEFAULT_WATCHDOG_S,
        help=f"heartbeat watchdog period in seconds (default {DEFAULT_WATCHDOG_S})",
    )
    parser.add_argument("--unit-id", type=int, default=None, help="unit id (default: profile's)")
    args = parser.parse_args(argv)
    if args.watchdog_s <= 0:
        parser.error(f"--watchdog-s {args.watchdog_s} must be positive")

    async def serve() -> None:
        plc = SafetyPlcSim(
            host=args.host, port=args.port, watchdog_s=args.watchdog_s, unit_id=args.unit_id
        )
        await serve_until_signalled(
            plc, lambda: f"safety PLC on {plc.endpoint}, watchdog {plc.watchdog_s} s"
        )

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
