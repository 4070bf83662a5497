"""Write interlock outputs to one safety PLC: allowlisted, rate-limited, verified, retried.

One ``PlcWriter`` per PLC owns its driver. ``request(point, value)`` records the wanted value and
returns at once (the rules path never waits on the PLC); the writer task applies the newest wanted
value of each output: write, read back, compare, retry with backoff, and reports each outcome as
an event. Moves towards the output's safe value are never held back by the rate limit. A
heartbeat register is written every ``interval_s`` so the PLC's watchdog trips to safe when the
agent stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from device_profiles import ResolvedDevice
from edge_agent.records import EventRecord
from protocols import PointSpec, ProtocolError, Quality, Timeouts, open_driver
from protocols.sync import EventCategory, Priority

from .config import Heartbeat, InterlocksConfig, Value

EmitEvent = Callable[[EventRecord], None]

log = structlog.get_logger("edge_agent.interlocks")


class NotAllowedError(PermissionError):
    """A write to a PLC point that is not in ``interlocks.outputs``."""


@dataclass
class _Output:
    point: str
    spec: PointSpec
    safe: Value
    wanted: Value | None = None
    written: Value | None = None
    last_write_mono: float = -1e18
    cause: str = ""
    failures: int = 0


@dataclass(frozen=True, slots=True)
class OutputStatus:
    plc: str
    point: str
    wanted: Value | None
    written: Value | None
    safe: Value
    failures: int


@dataclass
class WriterStats:
    writes: int = 0
    verified: int = 0
    failures: int = 0
    heartbeats: int = 0
    heartbeat_failures: int = 0
    rate_limited: int = 0
    # (monotonic time, point, value) of the last verified writes, for diagnostics and benchmarks
    change_log: deque[tuple[float, str, Value]] = field(default_factory=lambda: deque(maxlen=1000))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return bool(abs(float(a) - float(b)) < 1e-6)


class PlcWriter:
    def __init__(
        self,
        plc: ResolvedDevice,
        config: InterlocksConfig,
        emit: EmitEvent,
        *,
        plant_id: str,
        driver_factory: Callable[..., Any] = open_driver,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.plc = plc
        self.config = config
        self.emit = emit
        self.plant_id = plant_id
        self._wall = wall_clock
        self._factory = driver_factory
        self._outputs: dict[str, _Output] = {}
        for out in config.outputs:
            if out.plc == plc.id:
                self._outputs[out.point] = _Output(out.point, plc.point(out.point).spec, out.safe)
        self._heartbeat: Heartbeat | None = (
            config.heartbeat if config.heartbeat and config.heartbeat.plc == plc.id else None
        )
        self._wake = asyncio.Event()
        self.stats = WriterStats()
        self.driver: Any = None
        self._log = log.bind(plc=plc.id)

    def request(self, point: str, value: Value, cause: str) -> None:
        """Ask for ``point`` to be ``value``; refuses any point not on the allowlist."""
        out = self._outputs.get(point)
        if out is None:
            raise NotAllowedError(
                f"PLC {self.plc.id!r} point {point!r} is not an allowed interlock output"
            )
        if out.wanted is None or not _same(out.wanted, value):
            out.wanted, out.cause = value, cause
            self._wake.set()

    def outputs(self) -> list[OutputStatus]:
        return [
            OutputStatus(self.plc.id, o.point, o.wanted, o.written, o.safe, o.failures)
            for o in self._outputs.values()
        ]

    async def run(self) -> None:
        entry = self.plc.entry
        timeouts = Timeouts(connect_s=entry.connect_timeout_s, io_s=entry.timeout_s)
        options = {k: v for k, v in self.plc.driver_options.items() if k != "mode"}
        self.driver = self._factory(entry.url, timeouts=timeouts, **options)
        try:
            with contextlib.suppress(ProtocolError, TimeoutError):
                async with asyncio.timeout(timeouts.connect_s + 1):
                    await self.driver.connect()
            async with asyncio.TaskGroup() as tg:
                if self._heartbeat is not None:
                    tg.create_task(self._beat(self._heartbeat), name=f"heartbeat[{self.plc.id}]")
                tg.create_task(self._apply_loop(), name=f"interlock-writer[{self.plc.id}]")
        finally:
            with contextlib.suppress(ProtocolError, TimeoutError):
                async with asyncio.timeout(2):
                    await self.driver.close()

    async def _apply_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            next_check: float | None = None
            for out in self._outputs.values():
                if out.wanted is None or (
                    out.written is not None and _same(out.written, out.wanted)
                ):
                    continue
                wait = self._rate_wait(out)
                if wait > 0:
                    self.stats.rate_limited += 1
                    next_check = wait if next_check is None else min(next_check, wait)
                    continue
                await self._write(out, out.wanted)
                if out.written is None or not _same(out.written, out.wanted):
                    next_check = 1.0 if next_check is None else min(next_check, 1.0)  # retry later
            if next_check is not None:
                asyncio.get_running_loop().call_later(next_check, self._wake.set)

    def _rate_wait(self, out: _Output) -> float:
        if out.wanted is not None and _same(out.wanted, out.safe):
            return 0.0  # going to the safe state is never delayed
        return self.config.min_write_interval_s - (time.monotonic() - out.last_write_mono)

    async def _write(self, out: _Output, value: Value) -> None:
        attempts = self.config.write_retries + 1
        error = ""
        for attempt in range(attempts):
            try:
                await self.driver.write(out.spec, value)
                self.stats.writes += 1
                out.last_write_mono = time.monotonic()
                if self.config.verify:
                    samples = await self.driver.read(self.driver.plan([out.spec]))
                    got = samples[0] if samples else None
                    if (
                        got is None
                        or got.quality is Quality.BAD
                        or got.value is None
                        or not _same(got.value, value)
                    ):
                        raise ProtocolError(
                            f"read-back gave {got.value if got else None!r}, expected {value!r}"
                        )
                    self.stats.verified += 1
                out.written, out.failures = value, 0
                self.stats.change_log.append((time.monotonic(), out.point, value))
                self._event(out, "write", value, f"{out.point} := {value} ({out.cause})")
                return
            except ProtocolError as exc:
                error = str(exc)
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        out.failures += 1
        self.stats.failures += 1
        self._log.warning("interlock write failed", point=out.point, value=value, error=error)
        self._event(
            out,
            "write_failed",
            value,
            f"{out.point} := {value} failed after {attempts} attempt(s): {error}",
        )

    def _event(self, out: _Output, transition: str, value: Value, message: str) -> None:
        self.emit(
            EventRecord(
                event_id=uuid.uuid4().hex,
                category=EventCategory.INTERLOCK,
                kind="interlock.output",
                transition=transition,
                ts=self._wall(),
                point=f"{self.plant_id}/{self.plc.id}/{out.point}",
                priority=Priority.HIGH if transition == "write_failed" else None,
                value=float(value),
                message=message,
                details={"cause": out.cause, "safe": out.safe},
            )
        )

    async def _beat(self, hb: Heartbeat) -> None:
        spec = self.plc.point(hb.point).spec
        counter = 0
        healthy: bool | None = None
        while True:
            counter = (counter + 1) % 65536
            try:
                await self.driver.write(spec, counter)
                self.stats.heartbeats += 1
                if healthy is False:
                    self._log.info("heartbeat back")
                healthy = True
            except ProtocolError as exc:
                self.stats.heartbeat_failures += 1
                if healthy is not False:
                    self._log.warning("heartbeat write failed", error=str(exc))
                healthy = False
            await asyncio.sleep(hb.interval_s)
