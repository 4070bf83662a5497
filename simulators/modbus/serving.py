"""Serve simulated Modbus units over real sockets or a serial line, with pymodbus's server.

Each unit becomes a ``pymodbus.simulator.SimDevice`` whose four tables span the whole address
space and whose ``action`` hook asks the unit for the answer at the moment of each request (and
hands it every write); the unit alone decides which addresses exist. pymodbus tells the action
hook how many *registers* a coil or discrete-input read covers, not how many bits were asked
for, so those two requests are replaced (``custom_pdu``) by subclasses that let the unit check
the exact bit range first. pymodbus keeps only a scratch copy of the registers; the unit is the
truth. A unit that raises ``NoAnswer`` makes the server stay silent; so does a request for a unit
id nobody serves (as on an RS-485 bus).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sequence
from typing import Any, Literal

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData
from pymodbus.simulator import SimDevice as PyModbusDevice

from protocols.modbus import Table

from .unit import ModbusUnit, NoAnswer

__all__ = ["UnitServer"]

Framer = Literal["tcp", "rtu"]

_TABLE_OF_FUNCTION = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}


class UnitServer:
    """Several units behind one TCP port (Modbus TCP or RTU framing) or one serial port."""

    def __init__(
        self,
        units: Sequence[ModbusUnit],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framer: Framer = "tcp",
        serial_port: str | None = None,
        baudrate: int = 19200,
        parity: str = "E",
    ) -> None:
        if not units:
            raise ValueError("a Modbus server needs at least one unit")
        ids = [u.unit_id for u in units]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"unit ids served twice on one port: {dupes}")
        if framer not in ("tcp", "rtu"):
            raise ValueError(f"framer={framer!r}; expected 'tcp' or 'rtu'")
        if serial_port is not None and framer != "rtu":
            raise ValueError("a serial port is served with framer='rtu'")
        self.units = list(units)
        self.host = host
        self.port = port
        self.framer: Framer = framer
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.parity = parity
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    @property
    def endpoint(self) -> str:
        """The URL a driver uses to reach this server (for serial, this end of the line)."""
        if self.serial_port is not None:
            return self.serial_url(self.serial_port)
        scheme = "modbus+tcp" if self.framer == "tcp" else "modbus+rtu-tcp"
        return f"{scheme}://{self.host}:{self.port}"

    def serial_url(self, device: str) -> str:
        """The ``modbus+rtu`` URL for ``device`` (the other end of a pty pair) at this line's settings."""
        return f"modbus+rtu://{device}?baudrate={self.baudrate}&parity={self.parity}&stopbits=1&bytesize=8"

    async def start(self) -> None:
        devices = [_device_for(u) for u in self.units]
        if all(u.unit_id != 0 for u in self.units):
            devices.append(_silent_device())  # id 0 catches every unit id nobody serves
        bit_reads = _checked_bit_reads({u.unit_id: u for u in self.units})
        if self.serial_port is not None:
            server: ModbusTcpServer | ModbusSerialServer = ModbusSerialServer(
                devices,
                framer=FramerType.RTU,
                port=self.serial_port,
                baudrate=self.baudrate,
                parity=self.parity,
                ignore_missing_devices=True,
                custom_pdu=bit_reads,
            )
        else:
            server = ModbusTcpServer(
                devices,
                framer=FramerType.SOCKET if self.framer == "tcp" else FramerType.RTU,
                address=(self.host, self.port),
                ignore_missing_devices=True,
                custom_pdu=bit_reads,
            )
        await server.serve_forever(background=True)
        self._server = server
        if self.serial_port is None:
            sockets = getattr(server.transport, "sockets", None) or []
            if not sockets:
                await self.stop()
                raise OSError(f"Modbus server did not bind {self.host}:{self.port}")
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
            # Let the transports' close callbacks run before the caller's loop moves on.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0)

    async def __aenter__(self) -> UnitServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _full_address_space() -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
    """Blocks over all 65536 addresses of each table, so every request reaches the action hook
    (pymodbus would answer exception 02 by itself outside its blocks, even for a silent unit)."""
    # (A bit block's size must come from its values: pymodbus multiplies a bit block's count in.)
    bits = SimData(0, values=[False] * 0x10000, datatype=SimType.BITS)
    registers = SimData(0, count=0x10000, values=0, datatype=SimType.REGISTERS)
    return [bits], [bits], [registers], [registers]


def _device_for(unit: ModbusUnit) -> PyModbusDevice:
    return PyModbusDevice(
        unit.unit_id,
        simdata=_full_address_space(),
        action=functools.partial(_answer, unit),
    )


def _silent_device() -> PyModbusDevice:
    return PyModbusDevice(0, simdata=_full_address_space(), action=_never)


async def _never(*_: object) -> ExcCodes | None:
    raise NoSuchIdException("no unit with this id")


def _refusal(unit: ModbusUnit | None, table: Table, address: int, count: int) -> ExcCodes | None:
    if unit is None:
        return None  # the silent catch-all device handles it
    try:
        code = unit.check_read(table, address, count)
    except NoAnswer as exc:
        raise NoSuchIdException(f"unit {unit.unit_id} is off line") from exc
    return None if code is None else ExcCodes(code)


def _checked_bit_reads(units: dict[int, ModbusUnit]) -> list[type[ModbusPDU]]:
    """Coil and discrete-input read requests that ask the unit about the exact bit range."""

    class CheckedReadCoils(ReadCoilsRequest):
        async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
            code = _refusal(units.get(device_id), Table.COIL, self.address, self.count)
            if code is not None:
                return ExceptionResponse(self.function_code, code)
            return await super().datastore_update(context, device_id)

    class CheckedReadDiscreteInputs(ReadDiscreteInputsRequest):
        async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
            code = _refusal(units.get(device_id), Table.DISCRETE_INPUT, self.address, self.count)
            if code is not None:
                return ExceptionResponse(self.function_code, code)
            return await super().datastore_update(context, device_id)

    return [CheckedReadCoils, CheckedReadDiscreteInputs]


async def _answer(
    unit: ModbusUnit,
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    """pymodbus's action hook: let the unit answer, and copy its answer into pymodbus's scratch."""
    table = _TABLE_OF_FUNCTION.get(function_code)
    if table is None:
        return ExcCodes.ILLEGAL_FUNCTION
    if set_values is not None:
        try:
            code = unit.write(table, address, list(set_values))
        except NoAnswer as exc:
            raise NoSuchIdException(f"unit {unit.unit_id} is off line") from exc
        return None if code is None else ExcCodes(code)
    if table.is_bit_table:
        # ``count`` is the number of registers holding the bits; the exact range was checked by
        # the request class. Fill every bit of those registers from ``address`` on.
        bits = count * 16 - address % 16
        for k, bit in enumerate(unit.values(table, address, bits)):
            a = address + k
            index, mask = a // 16 - start_address, 1 << (a % 16)
            registers[index] = (registers[index] | mask) if bit else (registers[index] & ~mask)
        return None
    refusal = _refusal(unit, table, address, count)
    if refusal is not None:
        return refusal
    offset = address - start_address
    registers[offset : offset + count] = [int(v) for v in unit.values(table, address, count)]
    return None
