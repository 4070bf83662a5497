"""A real, small platform for browser tests and screenshots: central, simulators, edge agents.

Every part is its own process on free loopback ports, the way an operator runs them:

- central: ``python -m central init``, ``user add``, ``agent add`` (its token), then ``serve`` on
  SQLite in the work directory;
- per plant, the simulators: ``python -m simulators run plant.yaml --scenario FILE`` (Modbus /
  OPC UA servers on the ports of the plant's device URLs, each moved to a free port), and a
  mosquitto broker of its own when the plant has MQTT devices (plants reuse device ids, so they
  would share topics on one broker);
- per plant, the edge agent: ``python -m edge_agent run --config plant.yaml`` with
  ``central.url``, its token in ``HSE_EDGE_CENTRAL_TOKEN`` and ``central.heartbeat_s: 1``, so
  commands come down within a second or so.

:func:`running_stack` yields a :class:`Stack` and stops everything (agents, simulators, brokers,
central, in that order) when the block ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.central import ServerProcess, cli, running_server, sqlite_url
from tests.support.mosquitto import Broker
from tests.support.ports import free_port, wait_port
from tests.support.procs import Child, wait_for

START_TIMEOUT_S = 60.0
_ENDPOINT = re.compile(r"^(?P<scheme>[a-z0-9+.]+)://(?P<host>[^:/]+):(?P<port>\d+)(?P<rest>.*)$")


@dataclass(frozen=True)
class Account:
    name: str
    password: str
    role: str
    scope: str = "fleet"


@dataclass(frozen=True)
class PlantRun:
    """A plant to run: its config (as loaded YAML), a scenario file or id, its region and the
    time zone its compliance days are counted in."""

    config: dict[str, Any]
    scenario: Path | str | None
    region: str = "north"
    timezone: str | None = None

    @property
    def plant(self) -> str:
        return str(self.config["plant_id"])


@dataclass
class Site:
    """One running plant: its simulators, its agent and the agent's status API."""

    plant: str
    agent_id: str
    region: str
    status_url: str
    sim: Child
    agent: Child

    def agent_alarms(self) -> list[dict[str, Any]]:
        """Every alarm the agent's rules engine holds (status API ``/alarms?all=1``)."""
        with urllib.request.urlopen(self.status_url + "/alarms?all=1", timeout=5) as resp:  # noqa: S310  (loopback http)
            body: dict[str, Any] = json.load(resp)
        return list(body["alarms"])

    def agent_alarm(self, alarm_id: str) -> dict[str, Any] | None:
        return next((a for a in self.agent_alarms() if a.get("alarm_id") == alarm_id), None)


@dataclass
class Stack:
    workdir: Path
    central: ServerProcess
    sites: dict[str, Site]
    accounts: dict[str, Account]

    @property
    def url(self) -> str:
        return self.central.url

    @property
    def first(self) -> Site:
        return next(iter(self.sites.values()))

    @property
    def plant(self) -> str:
        return self.first.plant

    @property
    def region(self) -> str:
        return self.first.region

    def agent_alarm(self, alarm_id: str) -> dict[str, Any] | None:
        """The alarm as the first plant's edge agent holds it."""
        return self.first.agent_alarm(alarm_id)

    def api_token(self, account: Account) -> str:
        body = urllib.parse.urlencode({"username": account.name, "password": account.password})
        request = urllib.request.Request(  # noqa: S310  (loopback http)
            self.url + "/api/v1/auth/token", data=body.encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return str(json.load(resp)["access_token"])

    def api_get(self, token: str, path: str) -> Any:
        request = urllib.request.Request(  # noqa: S310  (loopback http)
            self.url + "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return json.load(resp)

    def wait_for_data(self, account: Account, timeout_s: float, min_points: int = 1) -> None:
        """Block until central holds values for ``min_points`` points of every plant."""
        token = self.api_token(account)

        def arrived() -> bool:
            for plant in self.sites:
                latest = self.api_get(token, f"/plants/{plant}/latest")
                if sum(p["value"] is not None for p in latest["points"]) < min_points:
                    return False
            return True

        try:
            wait_for(arrived, timeout_s=timeout_s, interval_s=0.25, what="first readings")
        except TimeoutError:
            raise TimeoutError(f"no readings reached central:\n{self.logs()}") from None

    def logs(self) -> str:
        """The tail of every process's output, for a failing test's report."""
        parts = [f"--- central\n{self.central.child.output()[-4000:]}"]
        for site in self.sites.values():
            parts.append(f"--- simulators {site.plant}\n{site.sim.output()[-3000:]}")
            parts.append(f"--- agent {site.plant}\n{site.agent.output()[-4000:]}")
        return "\n".join(parts)


def rewrite_endpoints(config: dict[str, Any], broker_port: int | None) -> dict[str, Any]:
    """The plant config with every TCP endpoint moved to a free port (one per original port);
    MQTT URLs point at ``broker_port``."""
    out = copy.deepcopy(config)
    ports: dict[int, int] = {}
    for device in [*out.get("devices", []), *out.get("plcs", [])]:
        match = _ENDPOINT.match(str(device.get("url", "")))
        if match is None:
            continue
        scheme, old = match["scheme"], int(match["port"])
        if scheme.startswith("mqtt"):
            if broker_port is None:
                raise ValueError(f"device {device['id']!r} is MQTT but no broker was started")
            new = broker_port
        else:
            new = ports.setdefault(old, free_port())
        device["url"] = f"{scheme}://127.0.0.1:{new}{match['rest']}"
    return out


def server_ports(config: dict[str, Any]) -> list[int]:
    """Ports the simulators listen on (everything but MQTT, which is the broker's)."""
    found: set[int] = set()
    for device in [*config.get("devices", []), *config.get("plcs", [])]:
        match = _ENDPOINT.match(str(device.get("url", "")))
        if match is not None and not match["scheme"].startswith("mqtt"):
            found.add(int(match["port"]))
    return sorted(found)


def _needs_broker(config: dict[str, Any]) -> bool:
    return any(
        str(d.get("url", "")).startswith("mqtt")
        for d in [*config.get("devices", []), *config.get("plcs", [])]
    )


def _wait_ready(child: Child, port: int, what: str) -> None:
    """Wait for ``port`` to accept; fail at once, with the output, if ``child`` exits first."""

    def listening() -> bool:
        if not child.alive():
            raise RuntimeError(f"{what} exited ({child.proc.returncode}):\n{child.output()}")
        try:
            wait_port(port, timeout_s=0.2)
        except TimeoutError:
            return False
        return True

    try:
        wait_for(listening, timeout_s=START_TIMEOUT_S, interval_s=0.05, what=f"{what} on {port}")
    except TimeoutError:
        raise TimeoutError(f"{what} did not start:\n{child.output()}") from None


def _check(result: Any, what: str) -> str:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr.strip()}")
    return str(result.stdout)


def _register(
    database_url: str, accounts: Sequence[Account], plants: Sequence[PlantRun]
) -> dict[str, str]:
    """Schema, plants (limit set, name, time zone), agents and users through the CLI;
    returns each plant's agent token."""
    _check(cli("init", database_url=database_url), "central init")
    tokens = {}
    for run in plants:
        plant_args = ["plant", "add", run.plant, "--region", run.region]
        if run.config.get("limit_set"):
            plant_args += ["--limit-set", str(run.config["limit_set"])]
        if run.config.get("name"):
            plant_args += ["--name", str(run.config["name"])]
        if run.timezone:
            plant_args += ["--timezone", run.timezone]
        _check(cli(*plant_args, database_url=database_url), f"plant add {run.plant}")
        result = cli(
            "agent",
            "add",
            "--plant",
            run.plant,
            "--region",
            run.region,
            "--agent-id",
            str(run.config["agent_id"]),
            database_url=database_url,
        )
        tokens[run.plant] = _check(result, f"agent add --plant {run.plant}").strip()
    # Users after agents: a user scoped to a plant needs the plant registered.
    for account in accounts:
        result = cli(
            "user",
            "add",
            account.name,
            "--role",
            account.role,
            "--scope",
            account.scope,
            database_url=database_url,
            env={"HSE_CENTRAL_USER_PASSWORD": account.password},
        )
        _check(result, f"user add {account.name} --role {account.role}")
    return tokens


def _start_site(
    stack: contextlib.ExitStack,
    workdir: Path,
    run: PlantRun,
    central_url: str,
    token: str,
    heartbeat_s: float,
) -> Site:
    workdir.mkdir(parents=True, exist_ok=True)
    broker_port = None
    if _needs_broker(run.config):
        broker = Broker(workdir)
        broker.start()
        stack.callback(broker.stop)
        broker_port = broker.port
    config = rewrite_endpoints(run.config, broker_port)
    status_port = free_port()
    central = {k: v for k, v in config.get("central", {}).items() if k != "token_env"}
    config["central"] = {**central, "url": central_url, "heartbeat_s": heartbeat_s}
    config["status"] = {"host": "127.0.0.1", "port": status_port, "operator_token_env": None}
    config["outbox"] = {**config.get("outbox", {}), "path": str(workdir / "outbox.db")}
    plant_file = workdir / "plant.yaml"
    plant_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    sim_args = ["run", str(plant_file), "--scenario", str(run.scenario or "none")]
    sim = Child.python("simulators", *sim_args, log=workdir / "sim.log")
    stack.callback(sim.stop)
    for port in server_ports(config):
        _wait_ready(sim, port, f"the simulators of {run.plant}")

    agent = Child.python(
        "edge_agent",
        "run",
        "--config",
        str(plant_file),
        log=workdir / "agent.log",
        env={"HSE_EDGE_CENTRAL_TOKEN": token},
    )
    # Stopped before its simulators and central (callbacks run last-in first-out).
    stack.callback(agent.stop)
    _wait_ready(agent, status_port, f"the agent of {run.plant}")
    return Site(
        plant=run.plant,
        agent_id=str(config["agent_id"]),
        region=run.region,
        status_url=f"http://127.0.0.1:{status_port}",
        sim=sim,
        agent=agent,
    )


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    plants: Sequence[PlantRun],
    *,
    accounts: Sequence[Account],
    heartbeat_s: float = 1.0,
) -> Iterator[Stack]:
    """Start central and, per plant, simulators and an agent; stop them all when done."""
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = sqlite_url(workdir)
    tokens = _register(database_url, accounts, plants)
    with contextlib.ExitStack() as stack:
        central = stack.enter_context(running_server(database_url, workdir))
        sites = {
            run.plant: _start_site(
                stack, workdir / run.plant, run, central.url, tokens[run.plant], heartbeat_s
            )
            for run in plants
        }
        yield Stack(
            workdir=workdir,
            central=central,
            sites=sites,
            accounts={a.name: a for a in accounts},
        )
