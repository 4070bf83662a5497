"""The agent's local status endpoint: ``/healthz``, ``/metrics`` (Prometheus text), ``/status`` (JSON).

Bound to 127.0.0.1 by default: it is for the field engineer on the gateway (``hse-edge status``)
and for a local Prometheus. Other routes (alarm actions) are added by the rules engine with
``add_route``.
"""

from __future__ import annotations

import dataclasses
import hmac
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .httpserver import Handler, HttpServer, Request, Response

if TYPE_CHECKING:
    from .agent import Agent


def _asdict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


class AgentCollector(Collector):
    """Turns the agent's ``statistics()`` snapshots into Prometheus metrics at scrape time."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Any]:
        agent = self.agent
        up = GaugeMetricFamily(
            "hse_edge_device_up", "1 if the device answered its last poll", labels=["device"]
        )
        polls = CounterMetricFamily("hse_edge_device_polls", "Polls made", labels=["device"])
        overruns = CounterMetricFamily(
            "hse_edge_device_overruns", "Poll ticks skipped", labels=["device"]
        )
        bad = CounterMetricFamily(
            "hse_edge_device_bad_samples", "Samples of bad quality", labels=["device"]
        )
        for poller in agent.pollers:
            for s in poller.statistics():
                up.add_metric([s.device], 1.0 if s.connected else 0.0)
                polls.add_metric([s.device], s.polls)
                overruns.add_metric([s.device], s.overruns)
                bad.add_metric([s.device], s.bad_samples)
        yield from (up, polls, overruns, bad)
        if agent.pipeline is not None:
            p = agent.pipeline.statistics()
            yield GaugeMetricFamily(
                "hse_edge_pipeline_queue_depth", "Sample batches queued", value=p.queue_depth
            )
            yield CounterMetricFamily(
                "hse_edge_readings", "Readings normalized", value=p.readings_out
            )
        if agent.outbox is not None:
            o = agent.outbox.statistics()
            backlog = GaugeMetricFamily(
                "hse_edge_outbox_backlog_records", "Records not yet acked", labels=["kind"]
            )
            for kind, n in o.backlog_records.items():
                backlog.add_metric([kind], n)
            yield backlog
            yield GaugeMetricFamily(
                "hse_edge_outbox_bytes", "Outbox bytes used", value=o.bytes_used
            )
            yield GaugeMetricFamily(
                "hse_edge_outbox_quota_bytes", "Outbox quota", value=o.quota_bytes
            )
            yield CounterMetricFamily(
                "hse_edge_outbox_gaps", "Gap records written", value=o.gaps_total
            )
            yield CounterMetricFamily(
                "hse_edge_outbox_degraded_readings",
                "Readings thinned into aggregates",
                value=o.degraded_readings,
            )
            yield CounterMetricFamily(
                "hse_edge_outbox_dropped_readings",
                "Readings lost to the disk quota",
                value=o.dropped_readings,
            )
        if agent.sync is not None:
            sync = agent.sync.statistics()
            yield CounterMetricFamily(
                "hse_edge_sync_batches", "Batches acknowledged", value=sync.batches_sent
            )
            yield CounterMetricFamily(
                "hse_edge_sync_failures", "Failed sync attempts", value=sync.failures
            )
        if agent.safety is not None:
            r = agent.safety.engine.statistics()
            yield GaugeMetricFamily(
                "hse_edge_alarms_active", "Alarms active", value=r.alarms_active
            )
            yield GaugeMetricFamily(
                "hse_edge_alarms_unacked", "Alarms unacknowledged", value=r.alarms_unacked
            )
            yield GaugeMetricFamily(
                "hse_edge_alarm_flood",
                "1 while the plant is in alarm flood",
                value=float(r.in_flood),
            )
            yield CounterMetricFamily("hse_edge_alarm_floods", "Alarm floods", value=r.floods)
            yield CounterMetricFamily(
                "hse_edge_alarm_chattering_episodes",
                "Chattering episodes",
                value=r.chattering_episodes,
            )
            yield GaugeMetricFamily(
                "hse_edge_faults_active", "Sensor faults active", value=r.faults_active
            )


class StatusServer:
    def __init__(
        self,
        agent: Agent,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        operator_token: str | None = None,
    ) -> None:
        self.agent = agent
        self._operator_token = operator_token
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(AgentCollector(agent))
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "/healthz"): self._healthz,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/status"): self._status,
            ("GET", "/alarms"): self._alarms,
            ("POST", "/alarms/action"): self._alarm_action,
        }
        self.http = HttpServer(routes, host=host, port=port)

    @property
    def port(self) -> int:
        return self.http.port

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        self.http.routes[(method, path)] = handler

    async def start(self) -> None:
        await self.http.start()

    async def stop(self) -> None:
        await self.http.stop()

    async def _healthz(self, _: Request) -> Response:
        ok = self.agent.outbox is not None
        return Response.json({"status": "ok" if ok else "starting"}, 200 if ok else 503)

    async def _metrics(self, _: Request) -> Response:
        return Response(
            200, generate_latest(self.registry), "text/plain; version=0.0.4; charset=utf-8"
        )

    async def _status(self, _: Request) -> Response:
        return Response.json(self.snapshot())

    async def _alarms(self, request: Request) -> Response:
        safety = self.agent.safety
        if safety is None:
            return Response.error(503, "the safety engine is not running")
        if request.query.get("all", ["0"])[0] in ("1", "true"):
            return Response.json({"alarms": safety.alarm_rows()})
        return Response.json(safety.snapshot())

    async def _alarm_action(self, request: Request) -> Response:
        """``{"action": "ack|shelve|unshelve|reset|suppress|...", "alarm_id", "actor", "reason", "shelve_s"}``."""
        if self._operator_token is None:
            return Response.error(
                403, "alarm actions over the status API are off: the agent has no operator token"
            )
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self._operator_token.encode()):
            return Response.error(
                401, "a valid operator token is required (Authorization: Bearer ...)"
            )
        safety = self.agent.safety
        if safety is None:
            return Response.error(503, "the safety engine is not running")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return Response.error(400, "body is not JSON")
        problem = _check_action(body)
        if problem:
            return Response.error(422, problem)
        from .rules import RulesError

        until = None
        if body.get("shelve_s") is not None:
            until = safety.now() + float(body["shelve_s"])
        try:
            events = safety.act(body["action"], alarm_id=body["alarm_id"], actor=f"edge:{body['actor']}",
                                reason=str(body.get("reason", "")), until=until)  # fmt: skip
        except RulesError as exc:
            return Response.error(409, str(exc))
        except ValueError as exc:  # an unknown action name
            return Response.error(422, str(exc))
        return Response.json(
            {
                "ok": True,
                "transitions": [e.transition for e in events],
                "state": events[-1].state if events else None,
            }
        )

    def snapshot(self) -> dict[str, Any]:
        agent = self.agent
        cfg = agent.config
        return {
            "plant_id": cfg.plant_id,
            "agent_id": cfg.agent_id,
            "started_ts": agent.started_ts,
            "devices": [_asdict(s) for p in agent.pollers for s in p.statistics()],
            "pipeline": _asdict(agent.pipeline.statistics()) if agent.pipeline else None,
            "outbox": _asdict(agent.outbox.statistics()) if agent.outbox else None,
            "sync": _asdict(agent.sync.statistics()) if agent.sync else None,
        }


def _check_action(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return "body must be a JSON object"
    for key in ("action", "alarm_id", "actor"):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"field {key!r} is required (a non-empty string)"
    shelve_s = body.get("shelve_s")
    if shelve_s is not None and (
        not isinstance(shelve_s, int | float) or not 0 < shelve_s <= 7 * 86400
    ):
        return f"shelve_s={shelve_s!r} must be a number of seconds in (0, 604800]"
    return None


def operator_token(env_name: str | None, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return env.get(env_name) or None if env_name else None


__all__ = ["AgentCollector", "StatusServer", "operator_token"]
