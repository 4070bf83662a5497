"""The Modbus polling driver: TCP, RTU on a serial line, and RTU over TCP.

``ModbusDriver.from_url(url, timeouts=..., **options)`` builds it; ``plan(points)`` merges the
points into block reads (``planner``), ``read(plan)`` returns one sample per planned point, good
or bad, ``write(point, value)`` drives a coil or holding register. Options:

    max_block_registers  int, 1..125     largest register read the device accepts (default 125)
    max_block_bits       int, 1..2000    largest coil / discrete input read (default 2000)
    max_gap              int, >= 0       unused registers a block may bridge (default 10)
    forbidden_ranges     [(table, first, last), ...]   addresses never to read
    reconnect_min_s      float > 0       first reconnect delay (default 0.5 s)
    reconnect_max_s      float           longest reconnect delay (default 30 s)
    refusal_retry_s      float > 0       how long a refused span is avoided (default 600 s)

What a failed read looks like: an exception response marks the points of that block bad with
``modbus.exception.<code>``; on 02 (illegal address) or 03 (illegal value, e.g. too long a read)
the block is split in halves and retried, down to single points, and the refused spans are
remembered so the next plans avoid them. A refusal is remembered for ``refusal_retry_s``
(monotonic clock) from the last time the device gave it: devices get reconfigured and updated,
so after that the span is forgotten and the planner may merge across it again; refused again, it
is remembered again. A block the device answers proves the spans inside it readable: they are
forgotten at once. A timeout marks the block bad with ``modbus.timeout``
(and, so a poll costs at most one timeout per unit id, the unit's other blocks too). A dropped
connection marks everything not yet read ``modbus.disconnected``; the driver reconnects at later
polls with exponential backoff and jitter, and until the next attempt is due ``read`` returns
bad samples at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from protocols.driver import Timeouts
from protocols.errors import (
    ConfigError,
    ConnectError,
    DecodeError,
    DeviceError,
    DeviceTimeout,
    ProtocolError,
    WriteError,
)
from protocols.types import DriverStatistics, Quality, Sample, Value

from .backoff import ReconnectSchedule
from .codec import block_bytes, encode
from .connection import ModbusConnection
from .endpoint import Endpoint, parse_url
from .health import ConnectionHealth
from .planner import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    Block,
    ReadPlan,
    RefusedSpan,
    normalize_forbidden,
    plan_reads,
    replan,
    split_block,
)
from .points import ModbusPoint, Table

__all__ = ["ModbusDriver"]

_OPTIONS = (
    "max_block_registers",
    "max_block_bits",
    "max_gap",
    "forbidden_ranges",
    "reconnect_min_s",
    "reconnect_max_s",
    "refusal_retry_s",
)
_SPLIT_CODES = (2, 3)  # ILLEGAL DATA ADDRESS, ILLEGAL DATA VALUE
_TIMEOUTS_BEFORE_RECONNECT = 3  # consecutive unanswered requests on TCP before reconnecting
_REPLANS_KEPT = 32


class ModbusDriver:
    """One Modbus connection (one TCP socket or one serial bus) and the devices behind it."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeouts: Timeouts | None = None,
        max_block_registers: int = MAX_READ_REGISTERS,
        max_block_bits: int = MAX_READ_BITS,
        max_gap: int = 10,
        forbidden_ranges: Sequence[Sequence[object]] = (),
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        refusal_retry_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` (monotonic seconds) times reconnects and refusals; injectable for tests."""
        self.endpoint = endpoint
        self.url = endpoint.url
        self.timeouts = timeouts or Timeouts()
        self._plan_options: dict[str, Any] = {
            "max_block_registers": _checked_int(
                "max_block_registers", max_block_registers, 1, MAX_READ_REGISTERS
            ),
            "max_block_bits": _checked_int("max_block_bits", max_block_bits, 1, MAX_READ_BITS),
            "max_gap": _checked_int("max_gap", max_gap, 0, 0xFFFF),
            "forbidden_ranges": normalize_forbidden(forbidden_ranges),
        }
        self._refusal_retry_s = _checked_seconds(self.url, "refusal_retry_s", refusal_retry_s)
        self._clock = clock
        try:
            self._schedule = ReconnectSchedule(
                min_s=float(reconnect_min_s), max_s=float(reconnect_max_s), clock=clock
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{self.url}: reconnect_min_s={reconnect_min_s!r}, reconnect_max_s="
                f"{reconnect_max_s!r}: {exc}"
            ) from exc
        self._conn = ModbusConnection(endpoint, self.timeouts)
        self._log = structlog.get_logger("protocols.modbus").bind(device=self.url)
        # Each span the device refused (exception 02/03), and when it may be tried again.
        self._refused: dict[RefusedSpan, float] = {}
        self._replans: dict[int, tuple[ReadPlan, ReadPlan]] = {}
        self._health = ConnectionHealth(self._log)
        self._ever_connected = False
        self._closed = False
        self._timeouts_in_row = 0

    @classmethod
    def from_url(
        cls, url: str, *, timeouts: Timeouts | None = None, **options: Any
    ) -> ModbusDriver:
        """Build (not connect) a driver; an unknown option or a bad URL is a ``ConfigError``."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(
                f"{url}: unknown Modbus option(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(_OPTIONS)}"
            )
        return cls(parse_url(url), timeouts=timeouts, **options)

    # -- lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection now; ``ConnectError`` if the device cannot be reached."""
        self._closed = False
        async with self._conn.lock:
            await self._open()

    async def close(self) -> None:
        self._closed = True
        self._conn.close()

    async def __aenter__(self) -> ModbusDriver:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- reading --------------------------------------------------------------------------------

    def plan(self, points: Sequence[Any]) -> ReadPlan:
        """Merge ``points`` (``ModbusPoint``) into block reads; a bad spec is a ``ConfigError``."""
        return plan_reads(points, refused=self._active_refusals(), **self._plan_options)

    async def read(self, plan: ReadPlan) -> list[Sample]:
        """One sample per point of ``plan``, in its order; never raises for device trouble."""
        if not isinstance(plan, ReadPlan):
            raise ConfigError(f"{self.url}: read() takes the ReadPlan from plan(), got {plan!r}")
        effective = self._current(plan)
        samples: list[Sample | None] = [None] * len(plan.points)
        async with self._conn.lock:
            reason = await self._ensure_connected()
            if reason is None:
                answered = await self._read_blocks(effective, samples)
                self._after_poll(answered, attempted=bool(effective.blocks))
            else:
                self._fill(samples, effective.points, range(len(plan.points)), reason)
        return [s for s in samples if s is not None]

    async def _ensure_connected(self) -> str | None:
        """None when connected; otherwise a reason code for this poll's bad samples."""
        if self._conn.connected:
            return None
        if self._closed or not self._schedule.due():
            return "modbus.disconnected"
        try:
            await self._open()
        except ConnectError:
            return "modbus.disconnected"
        return None

    async def _open(self) -> None:
        try:
            await self._conn.connect()
        except ConnectError as exc:
            delay = self._schedule.failed()
            self._health.error(exc, "connect")
            self._health.set_available(
                False, reason="connect_failed", error=str(exc), retry_in_s=round(delay, 3)
            )
            raise
        self._schedule.succeeded()
        if self._ever_connected:
            self._health.reconnects += 1
        self._ever_connected = True
        self._timeouts_in_row = 0

    async def _read_blocks(self, plan: ReadPlan, samples: list[Sample | None]) -> bool:
        """Read every block; returns whether the device answered anything."""
        answered = False
        timed_out_units: set[int] = set()
        blocks = list(plan.blocks)
        for i, block in enumerate(blocks):
            if block.unit_id in timed_out_units:
                self._fill(samples, plan.points, block.members, "modbus.timeout")
                continue
            outcome = await self._read_block(plan, block, samples)
            if outcome == "answered":
                answered = True
            elif outcome == "timeout":
                timed_out_units.add(block.unit_id)
            elif outcome == "disconnected":
                for rest in blocks[i + 1 :]:
                    self._fill(samples, plan.points, rest.members, "modbus.disconnected")
                break
        return answered

    async def _read_block(self, plan: ReadPlan, block: Block, samples: list[Sample | None]) -> str:
        """Read one block (splitting it when refused); ``answered``/``timeout``/``disconnected``."""
        points = plan.points
        self._health.requests.add()
        try:
            data = await self._conn.read(block.table, block.unit_id, block.start, block.count)
        except DeviceTimeout as exc:
            self._health.timeouts += 1
            self._timeouts_in_row += 1
            self._health.error(exc, "timeout")
            self._fill(samples, points, block.members, "modbus.timeout")
            return "timeout"
        except ConnectError as exc:
            self._health.error(exc, "disconnected")
            self._fill(samples, points, block.members, "modbus.disconnected")
            self._drop(str(exc))
            return "disconnected"
        except DeviceError as exc:
            self._timeouts_in_row = 0
            self._health.exceptions += 1
            self._health.error(exc, "exception")
            code = exc.code or 0
            halves = split_block(block, points) if code in _SPLIT_CODES else None
            if code in _SPLIT_CODES:
                self._remember_refused(block)
            if not halves:
                self._fill(samples, points, block.members, f"modbus.exception.{code}", code)
                return "answered"
            for half in halves:
                outcome = await self._read_block(plan, half, samples)
                if outcome != "answered":
                    rest = [m for h in halves for m in h.members if samples[m] is None]
                    self._fill(samples, points, rest, f"modbus.{outcome}")
                    return outcome
            return "answered"
        except DecodeError as exc:
            self._timeouts_in_row = 0
            self._health.error(exc, "protocol")
            self._fill(samples, points, block.members, "modbus.protocol")
            return "answered"
        self._timeouts_in_row = 0
        self._health.values.add(block.count)
        if self._refused:
            self._forget_accepted(block)
        now = time.time()
        decoders, widths = plan.decoders, plan.widths
        big, little = (b"", b"") if block.table.is_bit_table else block_bytes(data)
        for member, offset in zip(block.members, block.offsets, strict=True):
            words = data[offset : offset + widths[member]]
            try:
                value = decoders[member](data, big, little, offset)
            except DecodeError as exc:
                reason = getattr(exc, "reason", "modbus.decode")
                samples[member] = Sample(
                    points[member].key, None, Quality.BAD, now, reason=reason, raw=words
                )
                continue
            samples[member] = Sample(points[member].key, value, Quality.GOOD, now, raw=words)
        return "answered"

    def _after_poll(self, answered: bool, *, attempted: bool) -> None:
        if answered:
            self._health.set_available(True)
        elif attempted:
            self._health.set_available(False, reason="no_answer")
        if (
            not self.endpoint.is_serial
            and self._timeouts_in_row >= _TIMEOUTS_BEFORE_RECONNECT
            and self._conn.connected
        ):
            # A TCP peer that stopped answering altogether may be a half-open socket: start over.
            self._drop(f"{self._timeouts_in_row} requests in a row unanswered")

    def _drop(self, why: str) -> None:
        self._conn.close()
        self._timeouts_in_row = 0
        self._health.set_available(False, reason="disconnected", error=why)

    # -- writing --------------------------------------------------------------------------------

    async def write(self, point: Any, value: Value) -> None:
        """Write ``value`` to a coil or holding register (a register bit: read, modify, write).

        Raises ``WriteError`` for a read-only table or a refusal by the device, ``EncodeError``
        (a ``ConfigError``) for a value the point cannot hold, ``ConnectError`` /
        ``DeviceTimeout`` when the device cannot be reached.
        """
        if not isinstance(point, ModbusPoint):
            raise ConfigError(f"{self.url}: write() takes a ModbusPoint, got {point!r}")
        if not point.table.writable:
            raise WriteError(
                f"{self.url}: point {point.key!r} is in the read-only {point.table.value} table; "
                f"only coils and holding registers can be written"
            )
        encoded = encode(point, value)
        async with self._conn.lock:
            if self._closed:
                raise ConnectError(f"{self.url}: the driver is closed; connect() it again first")
            if not self._conn.connected:
                await self._open()
            self._health.requests.add()
            try:
                if point.table is Table.COIL:
                    await self._conn.write_coil(point.unit_id, point.address, bool(encoded))
                elif point.bit is not None:
                    self._health.requests.add()
                    current = (
                        await self._conn.read(Table.HOLDING, point.unit_id, point.address, 1)
                    )[0]
                    mask = 1 << point.bit
                    merged = (current | mask) if encoded else (current & ~mask)
                    await self._conn.write_registers(point.unit_id, point.address, [merged])
                else:
                    assert isinstance(encoded, list)
                    await self._conn.write_registers(point.unit_id, point.address, encoded)
            except DeviceError as exc:
                self._health.error(exc, "write")
                raise WriteError(
                    f"{self.url}: device refused writing {value!r} to point {point.key!r} "
                    f"({point.table.value} {point.address}): exception {exc.code}",
                    retriable=exc.retriable,
                ) from exc
            except ConnectError as exc:
                self._health.error(exc, "write")
                self._drop(str(exc))
                raise
            except DeviceTimeout as exc:
                self._health.timeouts += 1
                self._health.error(exc, "write")
                raise
            except ProtocolError as exc:
                self._health.error(exc, "write")
                raise

    # -- bookkeeping ----------------------------------------------------------------------------

    def statistics(self) -> DriverStatistics:
        return self._health.snapshot(
            self.url, connected=self._conn.connected, refused_spans=len(self._active_refusals())
        )

    @property
    def refused_spans(self) -> frozenset[RefusedSpan]:
        """Spans the device answered with exception 02/03 within the last ``refusal_retry_s``;
        plans avoid them until then."""
        return self._active_refusals()

    def _active_refusals(self) -> frozenset[RefusedSpan]:
        """The remembered refusals, after forgetting those whose retry time has come."""
        if self._refused:
            now = self._clock()
            for span in [s for s, retry_at in self._refused.items() if retry_at <= now]:
                del self._refused[span]
        return frozenset(self._refused)

    def _current(self, plan: ReadPlan) -> ReadPlan:
        """``plan``, re-planned if the refusals changed (learned or forgotten) since it was made."""
        refused = self._active_refusals()
        if plan.refused == refused:
            return plan
        kept = self._replans.get(id(plan))
        if kept is not None and kept[0] is plan and kept[1].refused == refused:
            return kept[1]
        replanned = replan(plan, refused)
        if len(self._replans) >= _REPLANS_KEPT:
            self._replans.clear()
        self._replans[id(plan)] = (plan, replanned)
        return replanned

    def _remember_refused(self, block: Block) -> None:
        """Avoid ``block``'s span for ``refusal_retry_s`` from now (again, if already known)."""
        known = block.span in self._refused
        self._refused[block.span] = self._clock() + self._refusal_retry_s
        if not known:
            self._log.info(
                "refused_block",
                unit_id=block.unit_id,
                table=block.table.value,
                first=block.start,
                last=block.last,
                retry_in_s=self._refusal_retry_s,
            )

    def _forget_accepted(self, block: Block) -> None:
        """The device answered ``block``: no span inside it is refused any more."""
        unit_id, table, first, last = block.span
        accepted = [
            span
            for span in self._refused
            if span[:2] == (unit_id, table) and first <= span[2] and span[3] <= last
        ]
        for span in accepted:
            del self._refused[span]
            self._log.info(
                "refused_block_accepted",
                unit_id=unit_id,
                table=table.value,
                first=span[2],
                last=span[3],
            )

    def _fill(
        self,
        samples: list[Sample | None],
        points: Sequence[ModbusPoint],
        members: Any,
        reason: str,
        code: int | None = None,
    ) -> None:
        now = time.time()
        for m in members:
            if samples[m] is None:
                samples[m] = Sample(
                    points[m].key, None, Quality.BAD, now, reason=reason, status_code=code
                )


def _checked_seconds(url: str, name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{url}: option {name}={value!r} must be a number of seconds > 0")
    return float(value)


def _checked_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"option {name}={value!r} must be an integer {lo}..{hi}")
    return value
