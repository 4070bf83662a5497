"""The edge agent: an ``async with`` object that owns every task of one plant's agent.

    async with Agent(plant, token=...) as agent:   # outbox open, pollers, pipeline, sync, status up
        await stop_event.wait()
    # leaving the block cancels the tasks, drains the pipeline and commits the outbox

Tasks (all named, all owned by one TaskGroup): ``poll[<devices>]`` per device connection,
``pipeline``, ``sync`` (when central is configured) and ``status`` (the local HTTP endpoint).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import structlog
from pydantic import SecretStr

from protocols.sync import AgentHealth, Command, DeviceHealth, PointInfo

from .badges import BadgeListener
from .normalize import TEXT_QUANTITIES
from .outbox import Outbox
from .pipeline import Pipeline, build_channels
from .plant import ResolvedPlant
from .poller import ConnectionPoller
from .safety import Safety
from .status import StatusServer, operator_token
from .sync import SyncClient

__version__ = "0.1.0"

log = structlog.get_logger("edge_agent")


def _utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _date_utc(d: date | None) -> datetime | None:
    return datetime(d.year, d.month, d.day, tzinfo=UTC) if d else None


class Agent:
    def __init__(
        self,
        plant: ResolvedPlant,
        *,
        token: SecretStr | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.plant = plant
        self.config = plant.config
        self._token = token
        self._wall = wall_clock
        self.outbox: Outbox | None = None
        self.pipeline: Pipeline | None = None
        self.pollers: list[ConnectionPoller] = []
        self.sync: SyncClient | None = None
        self.status: StatusServer | None = None
        self.safety: Safety | None = None
        self.badges: BadgeListener | None = None
        self.started_ts = wall_clock()
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.failed = asyncio.Event()

    async def __aenter__(self) -> Agent:
        cfg = self.config
        self.outbox = await Outbox.open(
            cfg.outbox.path,
            quota_bytes=cfg.outbox.quota_bytes,
            live_window_s=cfg.outbox.live_window_s,
            flush_interval_s=cfg.outbox.flush_interval_s,
        )
        try:
            await self._start()
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def _start(self) -> None:
        cfg = self.config
        assert self.outbox is not None
        channels = build_channels(self.plant, cfg.quality)
        self.safety = Safety(self.plant, self.outbox, wall_clock=self._wall)
        # Rules first: safety never waits on storage.
        consumers = [self.safety.on_readings, self.outbox.add_readings]
        self.pipeline = Pipeline(channels, consumers, ignored=self.plant.text_point_keys())
        self.pollers = [
            ConnectionPoller(
                c.url,
                c.devices,
                self.pipeline.submit,
                # an id, not security: a persistent MQTT session must keep its client id
                session_id=f"{cfg.agent_id}-{hashlib.sha1(c.url.encode()).hexdigest()[:8]}",  # noqa: S324
            )
            for c in self.plant.connections()
        ]
        if cfg.central.url and self._token is not None:
            self.sync = SyncClient(
                self.outbox,
                central_url=cfg.central.url,
                token=self._token.get_secret_value(),
                agent_id=cfg.agent_id,
                plant_id=cfg.plant_id,
                on_command=self._on_command,
                health=self.health,
                points=self.point_infos,
                batch_size=cfg.central.batch_size,
                heartbeat_s=cfg.central.heartbeat_s,
                timeout_s=cfg.central.timeout_s,
                backoff_max_s=cfg.central.retry_max_s,
            )
        if cfg.status.enabled:
            self.status = StatusServer(
                self,
                host=cfg.status.host,
                port=cfg.status.port,
                operator_token=operator_token(cfg.status.operator_token_env),
            )
            await self.status.start()
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._spawn(self.pipeline.run(), "pipeline")
        self._spawn(self.safety.run(), "safety")
        for poller in self.pollers:
            self._spawn(poller.run(), f"poll[{poller.url}]")
        if self.sync is not None:
            self._spawn(self.sync.run(), "sync")
        icfg = cfg.interlocks
        if icfg.badge_topic and icfg.badge_broker:
            self.badges = BadgeListener(
                icfg.badge_broker,
                icfg.badge_topic,
                self.safety.on_badge,
                session_id=f"{cfg.agent_id}-badges",
            )
            self._spawn(self.badges.run(), "badges")
        log.info(
            "agent started",
            plant=cfg.plant_id,
            agent=cfg.agent_id,
            connections=len(self.pollers),
            points=len(channels),
            status_port=self.status.port if self.status else None,
        )

    def _spawn(self, coro: Any, name: str) -> None:
        assert self._tg is not None
        task = self._tg.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # A task of the agent died: say so once and let the owner stop (and restart) it,
            # rather than run on half alive.
            log.error("agent task failed", task=task.get_name(), error=repr(task.exception()))
            self.failed.set()

    async def wait(self, stop: asyncio.Event) -> bool:
        """Until ``stop`` is set (True) or a task of the agent fails (False)."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.failed.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        return not self.failed.is_set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tg is not None:
            try:
                await self._tg.__aexit__(None, None, None)
            except BaseExceptionGroup as group:  # already logged by _task_done, one line each
                log.error(
                    "agent stopped after task failures", errors=[repr(e) for e in group.exceptions]
                )
            except asyncio.CancelledError:
                pass
            self._tg = None
        self._tasks.clear()
        if self.pipeline is not None and self.outbox is not None:
            await self.pipeline.drain()
        if self.safety is not None:
            await self.safety.flush()
        if self.status is not None:
            await self.status.stop()
        if self.outbox is not None:
            await self.outbox.close()
        log.info("agent stopped", plant=self.config.plant_id, **self._closing_figures())

    def _closing_figures(self) -> dict[str, Any]:
        """What this run produced, for the last log line: after the pipeline drained and the
        outbox committed, these are exact (a status snapshot taken earlier is not)."""
        figures: dict[str, Any] = {}
        if self.pipeline is not None:
            p = self.pipeline.statistics()
            figures.update(samples_in=p.samples_in, readings_out=p.readings_out)
        if self.outbox is not None:
            o = self.outbox.statistics()
            figures.update(
                last_seq=o.last_seq,
                backlog_records=o.backlog_total,
                degraded_readings=o.degraded_readings,
                dropped_readings=o.dropped_readings,
            )
        if self.safety is not None:
            figures.update(events_written=self.safety.events_written)
        devices = {s.device: s.polls for poller in self.pollers for s in poller.statistics()}
        if devices:
            figures.update(polls=devices)
        return figures

    async def _on_command(self, command: Command) -> tuple[bool, str]:
        if self.safety is None:
            return False, "the agent is not running"
        return await self.safety.on_command(command)

    def point_infos(self) -> list[PointInfo]:
        """What central registers: every measured point, and each safety PLC's points, which
        the agent writes (interlocks, heartbeat) but does not poll (``measured`` false, so
        central expects no readings from them)."""
        infos = self._plc_infos()
        for point_id, device, point in self.plant.points():
            entry = device.entry
            limits = {}
            if point.alarms is not None:  # limits are in the canonical unit already
                limits = dict(point.alarms.ladder())
            low, high = (None, None)
            if point.range is not None:
                factor, offset = point.to_canonical
                low, high = (point.range[0] * factor + offset, point.range[1] * factor + offset)
            infos.append(
                PointInfo(
                    point=point_id,
                    device=device.id,
                    area=entry.area,
                    zone=entry.zone,
                    name=point.name,
                    quantity=point.quantity,
                    unit=point.canonical_unit,
                    profile=device.profile.id,
                    range_low=low,
                    range_high=high,
                    device_serial=entry.serial,
                    calibration_due=_date_utc(entry.calibration_due),
                    limits=limits,
                    poll_interval_s=entry.poll_interval_s,
                )
            )
        return infos

    def _plc_infos(self) -> list[PointInfo]:
        return [
            PointInfo(
                point=self.plant.point_id(plc.id, point.point_id),
                device=plc.id,
                area=plc.entry.area,
                zone=plc.entry.zone,
                name=point.name,
                quantity=point.quantity,
                unit=point.canonical_unit,
                profile=plc.profile.id,
                device_serial=plc.entry.serial,
                measured=False,
            )
            for plc in self.plant.plcs
            for point in plc.points
            if point.quantity not in TEXT_QUANTITIES
        ]

    def health(self) -> AgentHealth:
        devices = [
            DeviceHealth(
                device=s.device,
                connected=s.connected,
                last_error=s.last_error,
                last_ok_ts=_utc(s.last_ok_ts),
            )
            for poller in self.pollers
            for s in poller.statistics()
        ]
        stats = self.outbox.statistics() if self.outbox is not None else None
        sync_stats = self.sync.statistics() if self.sync is not None else None
        return AgentHealth(
            ts=datetime.fromtimestamp(self._wall(), UTC),
            version=__version__,
            devices=devices,
            backlog_records=stats.backlog_total if stats else 0,
            oldest_unsent_ts=_utc(stats.oldest_unsent_ts) if stats else None,
            outbox_bytes=stats.bytes_used if stats else 0,
            quota_bytes=stats.quota_bytes if stats else 0,
            gaps_total=stats.gaps_total if stats else 0,
            clock_offset_s=sync_stats.clock_offset_s if sync_stats else None,
        )
