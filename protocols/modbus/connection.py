"""One connection to a Modbus peer: the pymodbus client behind our errors and timeouts.

This is the only module that touches pymodbus's client. It promises:

- every call is bounded by ``asyncio.timeout`` (connect by ``Timeouts.connect_s``, each request by
  ``Timeouts.io_s``), and pymodbus's own retries and automatic reconnects are switched off: the
  driver owns both;
- a peer that closes the connection while a request waits fails that request at once with
  ``ConnectError`` (not after the read timeout);
- pymodbus errors come out as ``ConnectError`` (retriable), ``DeviceTimeout`` (retriable),
  ``DeviceError`` (an exception response, ``code`` = the Modbus exception code) or
  ``DecodeError`` (a malformed or mismatched answer).

Requests on one connection never interleave (one ``asyncio.Lock``): on an RTU bus there are no
transaction ids, so an answer can only be matched to the one outstanding request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from protocols.driver import Timeouts
from protocols.errors import ConnectError, DecodeError, DeviceError, DeviceTimeout

from .endpoint import Endpoint, Framing
from .points import Table

__all__ = ["ModbusConnection"]


class ModbusConnection:
    """A pymodbus client for one endpoint, created on ``connect`` and dropped on ``close``."""

    def __init__(self, endpoint: Endpoint, timeouts: Timeouts) -> None:
        self.endpoint = endpoint
        self.timeouts = timeouts
        self.lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._waiting = False  # a request is awaiting its answer

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        """Open the connection; ``ConnectError`` if the peer cannot be reached in time."""
        self.close()
        client = self._new_client()
        try:
            async with asyncio.timeout(self.timeouts.connect_s):
                ok = await client.connect()
        except TimeoutError as exc:
            client.close()
            raise ConnectError(
                f"{self.endpoint.url}: no connection within {self.timeouts.connect_s} s"
            ) from exc
        except (OSError, ModbusException) as exc:
            client.close()
            raise ConnectError(f"{self.endpoint.url}: cannot connect: {exc}") from exc
        if not ok or not client.connected:
            client.close()
            raise ConnectError(f"{self.endpoint.url}: cannot connect (refused or unreachable)")
        self._client = client

    def close(self) -> None:
        """Drop the connection; idempotent."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def read(self, table: Table, unit_id: int, address: int, count: int) -> list[Any]:
        """Read ``count`` registers (ints) or bits (bools) from ``address``."""
        client = self._require()
        call: Callable[..., Awaitable[ModbusPDU]] = {
            Table.COIL: client.read_coils,
            Table.DISCRETE_INPUT: client.read_discrete_inputs,
            Table.HOLDING: client.read_holding_registers,
            Table.INPUT: client.read_input_registers,
        }[table]
        what = f"read {table.value} {address}+{count} from unit {unit_id}"
        response = await self._execute(what, call(address, count=count, device_id=unit_id))
        if table.is_bit_table:
            bits = list(response.bits)
            if len(bits) < count:
                raise DecodeError(f"{self.endpoint.url}: {what}: {len(bits)} bits came back")
            return bits[:count]
        registers = list(response.registers)
        if len(registers) != count:
            # An answer of the wrong size is an answer to some other request (a late reply on a
            # bus without transaction ids): never decode it as this block.
            raise DecodeError(f"{self.endpoint.url}: {what}: {len(registers)} registers came back")
        return registers

    async def write_coil(self, unit_id: int, address: int, value: bool) -> None:
        client = self._require()
        what = f"write coil {address}={value} on unit {unit_id}"
        await self._execute(what, client.write_coil(address, value, device_id=unit_id))

    async def write_registers(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        client = self._require()
        what = f"write holding {address}={list(values)} on unit {unit_id}"
        if len(values) == 1:
            call = client.write_register(address, values[0], device_id=unit_id)
        else:
            call = client.write_registers(address, list(values), device_id=unit_id)
        await self._execute(what, call)

    def _require(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is None or not self._client.connected:
            raise ConnectError(f"{self.endpoint.url}: not connected")
        return self._client

    async def _execute(self, what: str, call: Awaitable[ModbusPDU]) -> ModbusPDU:
        try:
            self._waiting = True
            async with asyncio.timeout(self.timeouts.io_s):
                response = await call
        except TimeoutError as exc:
            raise DeviceTimeout(
                f"{self.endpoint.url}: {what}: no answer within {self.timeouts.io_s} s"
            ) from exc
        except ConnectionException as exc:
            self.close()
            raise ConnectError(f"{self.endpoint.url}: {what}: connection lost: {exc}") from exc
        except ModbusIOException as exc:
            if not self.connected:
                self.close()
                raise ConnectError(f"{self.endpoint.url}: {what}: connection lost: {exc}") from exc
            raise DecodeError(f"{self.endpoint.url}: {what}: {exc}", retriable=True) from exc
        except ModbusException as exc:
            raise DecodeError(f"{self.endpoint.url}: {what}: {exc}", retriable=True) from exc
        finally:
            self._waiting = False
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            raise DeviceError(
                f"{self.endpoint.url}: {what}: exception {code:#04x}",
                code=code,
                retriable=code in (5, 6),  # ACKNOWLEDGE / DEVICE_BUSY: ask again later
            )
        return response

    def _new_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        ep = self.endpoint
        # pymodbus's own timeout is only a backstop: our asyncio.timeout scopes fire first.
        backstop_s = 2 * max(self.timeouts.connect_s, self.timeouts.io_s)
        framer = FramerType.SOCKET if ep.framing is Framing.TCP else FramerType.RTU
        common: dict[str, Any] = {
            "framer": framer,
            "timeout": backstop_s,
            "retries": 0,
            "reconnect_delay": 0,  # 0 = no automatic reconnect task inside pymodbus
            "trace_connect": self._on_connection_change,
        }
        if ep.is_serial:
            return AsyncModbusSerialClient(
                ep.serial_port,
                baudrate=ep.baudrate,
                bytesize=ep.bytesize,
                parity=ep.parity,
                stopbits=ep.stopbits,
                **common,
            )
        return AsyncModbusTcpClient(ep.host, port=ep.port, **common)

    def _on_connection_change(self, connected: bool) -> None:
        """pymodbus tells us the transport went away: fail the waiting request now."""
        if connected or self._client is None or not self._waiting:
            return
        pending = getattr(self._client.ctx, "response_future", None)
        if isinstance(pending, asyncio.Future) and not pending.done():
            with contextlib.suppress(asyncio.InvalidStateError):
                pending.set_exception(ConnectionException("peer closed the connection"))
