"""One task per device connection: fixed-rate polling, or a subscription stream.

A ``ConnectionPoller`` owns one driver (one Modbus TCP port or RTU bus, one OPC UA server, one
broker) and the devices behind it. Polling is fixed-rate per device: ticks are computed from the
start time, so they never drift, and a read that overruns skips the ticks it missed (counted)
instead of piling requests up behind a slow device. Streaming devices get a watchdog: no sample
for three expected intervals marks the device's points bad (``comm.timeout``), once, as
hse-standards.md §8.3 suggests for communication loss.

Samples go to ``sink`` (the pipeline's bounded queue): when it is full the poller waits, which is
the backpressure, and that wait shows up as overruns.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog

from device_profiles import ResolvedDevice
from edge_agent.rules.points import reports_by_exception
from protocols import Driver, PointSpec, ProtocolError, Quality, Sample, Timeouts, open_driver

Sink = Callable[[str, list[Sample]], Awaitable[None]]
STREAM_SCHEMES = {"mqtt", "mqtts"}
COMM_LOSS_INTERVALS = 3  # hse-standards.md §8.3: no update for > 3 poll periods is a comm loss
_AGENT_OPTIONS = {"mode"}

log = structlog.get_logger("edge_agent.poller")


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    device: str
    url: str
    connected: bool
    polls: int
    overruns: int
    good_samples: int
    bad_samples: int
    last_ok_ts: float | None
    last_error: str | None
    poll_interval_s: float


@dataclass
class _DeviceState:
    device: ResolvedDevice
    specs: list[PointSpec]
    plan: Any = None
    next_due: float = 0.0
    polls: int = 0
    overruns: int = 0
    good: int = 0
    bad: int = 0
    up: bool | None = None
    last_ok_ts: float | None = None
    last_error: str | None = None
    last_sample_mono: float = field(default_factory=time.monotonic)

    def status(self, url: str) -> DeviceStatus:
        return DeviceStatus(
            self.device.id,
            url,
            bool(self.up),
            self.polls,
            self.overruns,
            self.good,
            self.bad,
            self.last_ok_ts,
            self.last_error,
            self.device.entry.poll_interval_s,
        )


def is_streaming(url: str, options: dict[str, Any]) -> bool:
    scheme = urlsplit(url).scheme.lower()
    mode = options.get("mode")
    if scheme in STREAM_SCHEMES:
        return True
    if scheme == "opc.tcp":
        return mode != "poll"  # OPC UA subscribes unless told to poll
    return mode == "subscribe"


def merged_driver_options(devices: Sequence[ResolvedDevice]) -> dict[str, Any]:
    """Options for a driver shared by several devices: the strictest of each limit."""
    merged: dict[str, Any] = {}
    for device in devices:
        for key, value in device.driver_options.items():
            if key in _AGENT_OPTIONS:
                continue
            if key in ("max_block_registers", "max_block_bits", "max_gap") and key in merged:
                merged[key] = min(merged[key], value)
            elif key == "forbidden_ranges":
                merged[key] = [*merged.get(key, []), *value]
            else:
                merged.setdefault(key, value)
    return merged


class ConnectionPoller:
    """Owns one driver and the devices behind it; ``run()`` until cancelled."""

    def __init__(
        self,
        url: str,
        devices: Sequence[ResolvedDevice],
        sink: Sink,
        *,
        driver_factory: Callable[..., Driver] = open_driver,
        wall_clock: Callable[[], float] = time.time,
        session_id: str | None = None,
    ) -> None:
        self.url = url
        self.sink = sink
        self._factory = driver_factory
        self._wall = wall_clock
        self._states = {d.id: _DeviceState(d, [p.spec for p in d.points]) for d in devices}
        self._options = merged_driver_options(devices)
        if (
            urlsplit(url).scheme.lower() in STREAM_SCHEMES
            and session_id
            and not ({"client_id", "device_id"} & self._options.keys())
        ):
            # A persistent MQTT session needs the same client id after every restart of the agent.
            self._options["device_id"] = session_id
        first = devices[0].entry
        self.timeouts = Timeouts(
            connect_s=min(d.entry.connect_timeout_s for d in devices),
            io_s=min(d.entry.timeout_s for d in devices),
        )
        self.streaming = is_streaming(url, dict(first.options))
        self.report_by_exception = reports_by_exception(url, first.options)
        self.driver: Driver | None = None
        self._log = log.bind(connection=_redact(url), devices=sorted(self._states))

    def statistics(self) -> list[DeviceStatus]:
        return [s.status(_redact(self.url)) for s in self._states.values()]

    async def run(self) -> None:
        driver = self._factory(self.url, timeouts=self.timeouts, **self._options)
        self.driver = driver
        try:
            if self.streaming:
                await self._stream(driver)
            else:
                await self._poll(driver)
        finally:
            with contextlib.suppress(ProtocolError, TimeoutError):
                async with asyncio.timeout(self.timeouts.io_s + 1):
                    await driver.close()

    async def _poll(self, driver: Any) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for state in self._states.values():
            state.plan = driver.plan(state.specs)
            state.next_due = start
        with contextlib.suppress(ProtocolError, TimeoutError):
            async with asyncio.timeout(self.timeouts.connect_s + 1):
                await driver.connect()
        while True:
            state = min(self._states.values(), key=lambda s: s.next_due)
            delay = state.next_due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            samples = await driver.read(state.plan)
            await self._deliver(state, samples)
            interval = state.device.entry.poll_interval_s
            state.polls += 1
            state.next_due += interval
            behind = loop.time() - state.next_due
            if behind > 0:  # the read (or a full queue) took longer than the interval
                missed = math.ceil(behind / interval)
                state.overruns += missed
                state.next_due += missed * interval

    async def _stream(self, driver: Any) -> None:
        specs = [spec for s in self._states.values() for spec in s.specs]
        await driver.subscribe(specs)
        with contextlib.suppress(ProtocolError, TimeoutError):
            async with asyncio.timeout(self.timeouts.connect_s + 1):
                await driver.connect()
        async with asyncio.TaskGroup() as tg:
            if (
                not self.report_by_exception
            ):  # silence from an OPC UA subscription means "no change"
                tg.create_task(self._watchdog(), name=f"watchdog[{self.url}]")
            async for sample in driver.stream():
                device_id = sample.key.split("/", 1)[0]
                state = self._states.get(device_id)
                if state is not None:
                    await self._deliver(state, [sample])

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(s.device.entry.poll_interval_s for s in self._states.values()))
            now = time.monotonic()
            for state in self._states.values():
                limit = COMM_LOSS_INTERVALS * state.device.entry.poll_interval_s
                if now - state.last_sample_mono > limit and state.up is not False:
                    wall = self._wall()
                    samples = [
                        Sample(spec.key, None, Quality.BAD, wall, reason="comm.timeout")
                        for spec in state.specs
                    ]
                    await self._deliver(state, samples, from_watchdog=True)

    async def _deliver(
        self, state: _DeviceState, samples: list[Sample], *, from_watchdog: bool = False
    ) -> None:
        good = sum(1 for s in samples if s.quality is not Quality.BAD)
        state.good += good
        state.bad += len(samples) - good
        if not from_watchdog:
            state.last_sample_mono = time.monotonic()
        if good:
            state.last_ok_ts = self._wall()
            if state.up is False:
                self._log.info("device back", device=state.device.id)
            state.up = True
        elif samples:
            reason = samples[0].reason
            state.last_error = reason
            if state.up is not False:
                self._log.warning("device unavailable", device=state.device.id, reason=reason)
            state.up = False
        await self.sink(state.device.id, samples)


def _redact(url: str) -> str:
    """The URL without any password in it, for logs and status."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url
