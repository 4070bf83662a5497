"""The whole pipeline as the separate processes of a deployment, for end-to-end and fault tests.

    stack = Stack(tmp_path, database_url)            # nothing runs yet
    stack.central.setup(plant, agent_id)             # hse-central init, an admin, agent add
    stack.central.start()                            # hse-central serve on a fixed free port
    sims = stack.simulators("sims", devices, profiles)   # hse-sim run on a plant file
    agent = stack.agent(devices)                     # hse-edge run, token from its environment
    ...
    stack.close()                                    # every process stopped by pid, bounded

Every process runs in its own process group (``procs.Child``), logs to a file in the work
directory, listens on a free loopback port, and can be stopped (SIGTERM), killed (SIGKILL) and
started again on the same port. Reading back goes through central's API with a user token
(:class:`CentralApi`); what the API cannot answer (seqs, aggregates) is read from the database
(:func:`central_records`) or, for the agent, from its outbox file after it stopped
(:func:`outbox_contents`).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from .central import cli
from .ports import free_port, wait_port
from .procs import Child, wait_for

ADMIN_NAME = "e2e-admin"
ADMIN_PASSWORD = "e2e-admin-password-123"
API = "/api/v1"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- central --------------------------------------------------------------------------------


class CentralApi:
    """Central's read API as a user (an admin: fleet scope) sees it."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30, trust_env=False)
        r = self.client.post(
            f"{API}/auth/token", data={"username": ADMIN_NAME, "password": ADMIN_PASSWORD}
        )
        if r.status_code != 200:
            self.client.close()
            r.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(API + path, params={k: v for k, v in params.items() if v is not None})
        r.raise_for_status()
        return r.json()

    def _pages(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):  # bounded: 10,000 pages of up to 10,000 rows
            page = self.get(path, limit=10_000, cursor=cursor, **params)
            rows.extend(page[key])
            cursor = page.get("next_cursor")
            if not cursor:
                return rows
        raise AssertionError(f"{path}: more pages than expected")

    def readings(self, point: str, start: float, end: float) -> list[dict[str, Any]]:
        """Every raw reading of ``point`` with a source time in [start, end), oldest first."""
        return self._pages(f"/points/{point}/readings", "readings", start=iso(start), end=iso(end))

    def series_unit(self, point: str) -> str:
        return str(self.get(f"/points/{point}/readings", limit=1)["unit"])

    def points(self, plant: str) -> list[dict[str, Any]]:
        return self._pages("/points", "points", plant=plant)

    def events(self, plant: str, **params: Any) -> list[dict[str, Any]]:
        return self._pages("/events", "events", plant=plant, **params)

    def gaps(self, plant: str, **params: Any) -> list[dict[str, Any]]:
        return self._pages("/gaps", "gaps", plant=plant, **params)

    def plant_status(self, plant: str) -> dict[str, Any]:
        plants = self.get("/plants")["plants"]
        return next(p for p in plants if p["plant"] == plant)

    def latest(self, plant: str) -> list[dict[str, Any]]:
        return list(self.get(f"/plants/{plant}/latest")["points"])


class Central:
    """``hse-central`` on one database and one fixed port, restartable."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.port = free_port()
        self.child: Child | None = None
        self.starts = 0
        self.apis: list[CentralApi] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def setup(self, plant: str, agent_id: str) -> str:
        """Schema, an admin user and the agent; returns the agent's token."""
        for args, env in (
            (("init",), None),
            (
                ("user", "add", ADMIN_NAME, "--role", "admin"),
                {"HSE_CENTRAL_USER_PASSWORD": ADMIN_PASSWORD},
            ),
            (("agent", "add", "--plant", plant, "--agent-id", agent_id), None),
        ):
            done = cli(*args, database_url=self.database_url, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"hse-central {' '.join(args)}: {done.stderr}")
        return done.stdout.strip()

    def start(self) -> None:
        self.starts += 1
        self.child = Child.python(
            "central", "--database-url", self.database_url,
            "serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
            log=self.workdir / f"central-{self.starts}.log",
            env={"HSE_CENTRAL_LOG_FORMAT": "json"},
        )  # fmt: skip
        try:
            wait_port(self.port, timeout_s=60)
        except TimeoutError:
            raise TimeoutError(f"central did not start:\n{self.child.output()}") from None

    def stop(self, *, kill: bool = False) -> None:
        if self.child is not None:
            if kill:
                self.child.kill()
            self.child.stop()
            self.child = None

    def api(self) -> CentralApi:
        """A logged-in API client; ``Stack.close`` closes it if the test did not."""
        api = CentralApi(self.url)
        self.apis.append(api)
        return api


@dataclass
class CentralRecords:
    """What central holds for one agent, read from its database (the API shows no seqs)."""

    seqs: list[int]  # seq_ledger, every record kind
    reading_rows: int
    reading_seqs: int  # distinct
    aggregate_count: int  # readings the stored aggregates stand for
    aggregates: int
    events: int
    gaps: int


def central_records(database_url: str, agent_key: str) -> CentralRecords:
    from sqlalchemy import create_engine, text

    from central.core.db import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:

            def one(sql: str) -> Any:
                return conn.execute(text(sql), {"k": agent_key}).scalar_one()

            agent = "(SELECT id FROM agent WHERE key = :k)"
            seqs = [
                int(r[0])
                for r in conn.execute(
                    text(f"SELECT seq FROM seq_ledger WHERE agent_id = {agent} ORDER BY seq"),  # noqa: S608
                    {"k": agent_key},
                )
            ]
            return CentralRecords(
                seqs=seqs,
                reading_rows=int(one(f"SELECT count(*) FROM reading WHERE agent_id = {agent}")),  # noqa: S608
                reading_seqs=int(
                    one(f"SELECT count(DISTINCT seq) FROM reading WHERE agent_id = {agent}")  # noqa: S608
                ),
                aggregate_count=int(
                    one(
                        f"SELECT coalesce(sum(count), 0) FROM reading_aggregate WHERE agent_id = {agent}"  # noqa: S608
                    )
                ),
                aggregates=int(
                    one(f"SELECT count(*) FROM reading_aggregate WHERE agent_id = {agent}")  # noqa: S608
                ),
                events=int(one(f"SELECT count(*) FROM event WHERE agent_id = {agent}")),  # noqa: S608
                gaps=int(one(f"SELECT count(*) FROM gap WHERE agent_id = {agent}")),  # noqa: S608
            )
    finally:
        engine.dispose()


# --- plant files ------------------------------------------------------------------------------


def device(
    device_id: str, profile: str, url: str, *, poll_s: float = 0.5, **extra: Any
) -> dict[str, Any]:
    """A plant config device entry (timeouts inside the poll interval)."""
    entry: dict[str, Any] = {
        "id": device_id,
        "profile": profile,
        "url": url,
        "poll_interval_s": poll_s,
        "timeout_s": min(0.5, poll_s * 0.8),
        "connect_timeout_s": 1.0,
    }
    entry.update(extra)
    return entry


@dataclass(frozen=True)
class ConstPoint:
    """A point of a test profile: a constant, noise-free signal, so every value is known."""

    id: str
    quantity: str
    unit: str
    range: tuple[float, float]
    value: float  # in ``unit``, what the device reports
    simulate: dict[str, Any] | None = None  # another signal model instead of the constant
    alarms: dict[str, Any] | None = None  # profile alarm defaults (canonical unit)


def profile(
    profile_id: str, protocol: str, points: list[ConstPoint], **extra: Any
) -> dict[str, Any]:
    """A device profile of ``points``: Modbus float32 holding registers (ABCD), OPC UA Double
    nodes ``ns=2;s={device}.<point>``, or one MQTT JSON document per device with a timestamp."""
    docs = []
    for i, p in enumerate(points):
        doc: dict[str, Any] = {
            "id": p.id,
            "quantity": p.quantity,
            "unit": p.unit,
            "range": list(p.range),
            "simulate": p.simulate or {"model": "steady", "base": p.value, "noise": 0.0},
        }
        if p.alarms is not None:
            doc["alarms"] = p.alarms
        if protocol == "modbus":
            doc["modbus"] = {"table": "holding", "address": 2 * i, "type": "float32"}
        elif protocol == "opcua":
            doc["opcua"] = {"node_id": f"ns=2;s={{device}}.{p.id}", "sampling_interval_ms": 100}
        else:
            doc["mqtt"] = {"topic": "e2e/{device}/data", "field": p.id, "timestamp_field": "ts"}
        docs.append(doc)
    body: dict[str, Any] = {
        "schema_version": 1,
        "id": profile_id,
        "manufacturer": "Test",
        "model": profile_id,
        "kind": "test_device",
        "protocol": protocol,
        "points": docs,
    }
    if protocol == "modbus":
        body["modbus"] = {"byte_order": "ABCD", "unit_id": 1}
    body.update(extra)
    return body


def write_profiles(directory: Path, profiles: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for profile in profiles:
        (directory / f"{profile['id']}.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    return directory


# --- simulators -------------------------------------------------------------------------------


class Simulators:
    """``hse-sim run`` of a plant file (only its devices), restartable; ready when it says so."""

    def __init__(self, workdir: Path, name: str, plant_file: Path, profiles_dir: Path) -> None:
        self.workdir = workdir
        self.name = name
        self.plant_file = plant_file
        self.profiles_dir = profiles_dir
        self.child: Child | None = None
        self.starts = 0

    def start(self, timeout_s: float = 60.0) -> None:
        self.starts += 1
        child = self.child = Child.python(
            "simulators", "--profiles-dir", str(self.profiles_dir),
            "run", str(self.plant_file), "--scenario", "none",
            log=self.workdir / f"sim-{self.name}-{self.starts}.log",
        )  # fmt: skip
        wait_for(
            lambda: "ready;" in child.output() or not child.alive(),
            timeout_s=timeout_s,
            what=f"simulators {self.name} ready",
        )
        if not child.alive():
            raise RuntimeError(f"simulators {self.name} failed:\n{child.output()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.child is not None:
            if kill:
                self.child.kill()
            self.child.stop()
            self.child = None


# --- the agent --------------------------------------------------------------------------------


@dataclass
class AgentRun:
    """One life of the agent process: its log and, after a clean stop, its closing figures."""

    log: Path
    final: dict[str, Any] | None = None


class EdgeAgent:
    """``hse-edge run`` on a plant file written here; the outbox path stays across restarts."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.stack = stack
        self.token = token
        self.outbox = stack.workdir / "agent" / "outbox.db"
        self.status_port = free_port()
        self.child: Child | None = None
        self.runs: list[AgentRun] = []

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.status_port}"

    def write_config(self, devices: list[dict[str, Any]], **overrides: Any) -> Path:
        stack = self.stack
        config: dict[str, Any] = {
            "plant_id": stack.plant_id,
            "agent_id": stack.agent_id,
            "profiles_dirs": [str(stack.profiles_dir)],
            "central": {"url": stack.central.url, "heartbeat_s": 1.0, "timeout_s": 10.0},
            "outbox": {"path": str(self.outbox), "flush_interval_s": 0.2},
            "status": {"port": self.status_port},
            # Exact constant test signals must stay GOOD: a value that never moves is not a
            # flatline, and no spike statistics can fire on it; these only matter for steps.
            "quality": {"flatline_samples": 1_000_000, "spike_k": 1e9},
            "devices": devices,
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        path = stack.workdir / "agent" / f"plant-{len(self.runs) + 1}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        return path

    def start(self, devices: list[dict[str, Any]], **overrides: Any) -> None:
        config = self.write_config(devices, **overrides)
        run = AgentRun(self.stack.workdir / "agent" / f"agent-{len(self.runs) + 1}.log")
        self.runs.append(run)
        self.child = Child.python(
            "edge_agent", "run", "--config", str(config),
            log=run.log, env={"HSE_EDGE_CENTRAL_TOKEN": self.token},
        )  # fmt: skip
        try:
            wait_port(self.status_port, timeout_s=60)
        except TimeoutError:
            raise TimeoutError(f"the agent did not start:\n{self.child.output()}") from None

    def status(self) -> dict[str, Any]:
        with httpx.Client(timeout=10, trust_env=False) as client:
            r = client.get(self.status_url + "/status")
            r.raise_for_status()
            return dict(r.json())

    def stop(self, *, kill: bool = False) -> AgentRun:
        """SIGTERM (the agent commits what it buffered) or SIGKILL; returns this run."""
        run = self.runs[-1]
        if self.child is not None:
            if kill:
                self.child.kill()
            code = self.child.stop(timeout_s=30)
            self.child = None
            if not kill:
                assert code == 0, f"the agent exited with {code}:\n{run.log.read_text()[-3000:]}"
                run.final = final_figures(run.log)
        return run

    def drain(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Restart without devices and wait until the outbox is empty; returns the last status."""
        self.start([])

        def empty() -> dict[str, Any] | None:
            status = self.status()
            outbox = status["outbox"]
            done = outbox["backlog_records"] and sum(outbox["backlog_records"].values()) == 0
            return status if done and outbox["in_flight"] == 0 else None

        status: dict[str, Any] = wait_for(
            empty, timeout_s=timeout_s, interval_s=0.2, what="the outbox drained"
        )
        self.stop()
        return status


def final_figures(log: Path) -> dict[str, Any]:
    """The ``agent stopped`` line of a cleanly stopped agent (its closing figures)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if '"agent stopped"' in line:
            return dict(json.loads(line))
    raise AssertionError(f"no 'agent stopped' line in {log}")


@dataclass
class OutboxContents:
    """What an outbox file holds (read after the agent stopped or was killed)."""

    readings: Counter[str] = field(default_factory=Counter)  # per point
    reading_seqs: list[int] = field(default_factory=list)
    aggregate_seqs: list[int] = field(default_factory=list)
    aggregate_count: int = 0
    event_seqs: list[int] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)  # event lane kinds
    seq_reserved: int = 0

    @property
    def seqs(self) -> set[int]:
        return {*self.reading_seqs, *self.aggregate_seqs, *self.event_seqs}


def seq_floor(path: Path) -> int:
    """The highest seq an outbox file (or its side file) has reserved or holds: the agent's next
    life hands out seqs from the one above (``edge_agent.outbox.seqmark``)."""
    if not path.exists():
        return 0
    side = path.with_name(path.name + ".seq")
    marks = [json.loads(side.read_text())["reserved_through"]] if side.exists() else []
    contents = outbox_contents(path)
    return max([*marks, contents.seq_reserved, *contents.seqs, 0])


def outbox_contents(path: Path) -> OutboxContents:
    """Read an outbox file the way the agent's next start would (WAL included), changing nothing."""
    out = OutboxContents()
    db = sqlite3.connect(path, timeout=10)
    try:
        for point, seq in db.execute(
            "SELECT s.point, r.seq FROM readings r JOIN streams s ON s.id = r.stream"
        ):
            out.readings[point] += 1
            out.reading_seqs.append(seq)
        for seq, count in db.execute("SELECT seq, count FROM aggregates"):
            out.aggregate_seqs.append(seq)
            out.aggregate_count += count
        for seq, kind in db.execute("SELECT seq, kind FROM events"):
            out.event_seqs.append(seq)
            out.kinds[kind] += 1
        row = db.execute("SELECT value FROM meta WHERE key = 'seq_reserved'").fetchone()
        out.seq_reserved = int(row[0]) if row else 0
    finally:
        db.close()
    return out


# --- everything -------------------------------------------------------------------------------


class Stack:
    """Central, simulators, an optional mosquitto and one agent for one plant, in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        plant_id: str = "e2e-plant",
        agent_id: str = "e2e-agent",
        profiles: list[dict[str, Any]] | None = None,
    ) -> None:
        self.workdir = workdir
        self.plant_id = plant_id
        self.agent_id = agent_id
        self.profiles_dir = write_profiles(workdir / "profiles", profiles or [])
        self.central = Central(workdir, database_url)
        self.sims: list[Simulators] = []
        self.brokers: list[Any] = []
        self._agent: EdgeAgent | None = None
        self._token: str | None = None

    def start_central(self) -> None:
        self._token = self.central.setup(self.plant_id, self.agent_id)
        self.central.start()

    def broker(self) -> Any:
        """A mosquitto on a free port (``tests.support.mosquitto.Broker``), started."""
        from .mosquitto import Broker

        folder = self.workdir / f"broker-{len(self.brokers) + 1}"
        folder.mkdir()
        broker = Broker(folder)
        broker.start()
        self.brokers.append(broker)
        return broker

    def simulators(self, name: str, devices: list[dict[str, Any]]) -> Simulators:
        """Serve ``devices`` (plant config entries) from one ``hse-sim run`` process, started."""
        plant_file = self.workdir / f"sim-{name}.yaml"
        plant_file.write_text(
            yaml.safe_dump({"plant_id": self.plant_id, "devices": devices}), encoding="utf-8"
        )
        sims = Simulators(self.workdir, name, plant_file, self.profiles_dir)
        self.sims.append(sims)
        sims.start()
        return sims

    @property
    def agent(self) -> EdgeAgent:
        if self._agent is None:
            assert self._token is not None, "start central first: the agent needs its token"
            self._agent = EdgeAgent(self, self._token)
        return self._agent

    def close(self) -> None:
        """Stop everything still running (agent first, so it never outlives central by much)."""
        if self._agent is not None and self._agent.child is not None:
            self._agent.child.stop()
            self._agent.child = None
        for sims in self.sims:
            sims.stop()
        for broker in self.brokers:
            broker.stop()
        for api in self.central.apis:
            api.close()
        self.central.stop()


# --- load -------------------------------------------------------------------------------------

LOAD_PROFILE_ID = "load-50-mb"
LOAD_POINTS_PER_UNIT = 50


def load_profile() -> dict[str, Any]:
    """A 50-channel gas controller (float32 holding registers, one block read), constant values."""
    return profile(
        LOAD_PROFILE_ID,
        "modbus",
        [
            ConstPoint(f"ch{i:02d}", "gas.h2s", "ppm", (0, 100), 1.0 + i / 8)
            for i in range(LOAD_POINTS_PER_UNIT)
        ],
    )


def load_devices(readings_per_s: int, *, poll_s: float = 0.5) -> list[dict[str, Any]]:
    """Controllers on one Modbus TCP port that together make ``readings_per_s``."""
    port = free_port()
    units = max(1, round(readings_per_s * poll_s / LOAD_POINTS_PER_UNIT))
    return [
        device(
            f"ctrl-{u:02d}",
            LOAD_PROFILE_ID,
            f"modbus+tcp://127.0.0.1:{port}",
            unit_id=u,
            poll_s=poll_s,
        )
        for u in range(1, units + 1)
    ]
