"""``hse-sim demo``: the whole platform on one machine, each part the process it is in the field.

    hse-sim demo [--data-dir ./hse-demo-data] [--plant config/demo-plant.yaml] [--free-ports]

Starts, in this order, each in its own process group with its log in ``<data-dir>/logs``:

1. central on SQLite in the data directory (``hse-central init``; an ``admin`` user with a
   generated password, kept in ``<data-dir>/admin-password`` (mode 0600); the demo agent
   registered with ``hse-central agent add``, its token kept in ``<data-dir>/agent.token``
   (0600) and handed to the agent through its config's ``central.token_file``);
2. an MQTT broker: the system ``mosquitto`` if there is one, else ``python -m
   simulators.mqtt_broker``;
3. the simulators of the demo plant (``hse-sim run``) playing the ``demo`` scenario, from the plant
   file rewritten into the data directory with free ports where the fixed ones are taken (all of
   them with ``--free-ports``) and the broker's URL;
4. the edge agent (``hse-edge run``) on that file: central's URL, a 2 s heartbeat so central's
   acks and commands come down quickly, its status endpoint on 127.0.0.1.

Then it prints the URLs and the login, and serves until SIGINT (Ctrl-C) or SIGTERM, when it stops
every process it started (agent first, so its outbox is committed; SIGTERM, then SIGKILL after a
bounded wait) and exits 0. A run in an existing data directory reuses its database, login and
token. The simulators may not import central or the agent (ARCHITECTURE.md §3): they are started
as ``python -m central`` and ``python -m edge_agent`` processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import yaml

from device_profiles.loader import read_yaml

__all__ = ["DemoError", "rewrite_plant", "run_demo"]

DEFAULT_PLANT = Path(__file__).resolve().parents[1] / "config" / "demo-plant.yaml"
ADMIN_NAME = "admin"
CENTRAL_PORT = 8000
STATUS_PORT = 8710
BROKER_PORT = 1883
HEARTBEAT_S = 2.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = {"agent": 20.0}  # the agent drains its pipeline and commits its outbox
DEFAULT_STOP_TIMEOUT_S = 10.0


class DemoError(RuntimeError):
    """The demo could not start (a command failed, a process died or never came up)."""


class _StopRequested(Exception):
    """SIGINT or SIGTERM arrived while the demo was still starting."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pick_port(wanted: int, *, any_port: bool) -> int:
    """``wanted`` if it is free (and fixed ports are asked for), else one the OS gives."""
    return wanted if not any_port and port_free(wanted) else free_port()


def rewrite_plant(
    plant: dict[str, Any],
    *,
    data_dir: Path,
    central_url: str,
    broker_url: str,
    status_port: int,
    any_port: bool,
) -> dict[str, Any]:
    """The demo plant for this machine: each device endpoint on its fixed port if free (else a
    free one, the same for every device that shares it), MQTT devices on ``broker_url``, the
    agent's central, outbox and status in the data directory and on this machine."""
    mapped: dict[tuple[str, int], int] = {}

    def local(url: str) -> str:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("mqtt", "mqtts"):
            return broker_url
        if parts.port is None:  # a serial line: served as it is
            return url
        key = (parts.hostname or "127.0.0.1", parts.port)
        if key not in mapped:
            mapped[key] = pick_port(parts.port, any_port=any_port)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{mapped[key]}"))

    out = dict(plant)
    for section in ("devices", "plcs"):
        out[section] = [{**entry, "url": local(entry["url"])} for entry in plant.get(section) or []]
    out["central"] = {
        "url": central_url,
        "token_file": str(data_dir / "agent.token"),
        "heartbeat_s": HEARTBEAT_S,
    }
    out["outbox"] = {**(plant.get("outbox") or {}), "path": str(data_dir / "agent" / "outbox.db")}
    out["status"] = {**(plant.get("status") or {}), "host": "127.0.0.1", "port": status_port}
    return out


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner can read (0600 from the first byte)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")


class Supervisor:
    """The demo's child processes: started in their own process group, stopped by pid."""

    def __init__(self, logs: Path, stop: threading.Event) -> None:
        self.logs = logs
        self.stop_requested = stop
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(  # noqa: S603  (our own programs, argv from this module)
                list(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.children.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 15) -> str:
        text = (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, name: str, ready: Any, what: str) -> None:
        """Wait for ``ready()`` while ``name`` runs; bounded, and cut short by a stop request."""
        proc = dict(self.children)[name]
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if proc.poll() is not None:
                raise DemoError(f"{name} exited ({proc.returncode}):\n{self.log_tail(name)}")
            if self.stop_requested.is_set():
                raise _StopRequested
            if time.monotonic() > deadline:
                raise DemoError(f"{name}: {what} not within {START_TIMEOUT_S} s")
            time.sleep(0.1)

    def dead(self) -> list[str]:
        return [
            f"{name} (exit {p.returncode})" for name, p in self.children if p.poll() is not None
        ]

    def stop_all(self, out: TextIO) -> None:
        """Newest first: SIGTERM the group, wait (bounded), SIGKILL what is left."""
        while self.children:
            name, proc = self.children.pop()
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S.get(name, DEFAULT_STOP_TIMEOUT_S))
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            code = proc.returncode
            how = f"exit {code}" if code >= 0 else f"on {signal.Signals(-code).name}"
            print(f"  {name:<11} stopped ({how})", file=out, flush=True)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone already
        os.killpg(pid, sig)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310  (a local http URL)
            return int(resp.status) == 200
    except OSError:
        return False


def _central(args: list[str], db_url: str) -> str:
    """Run one ``hse-central`` command; its stdout, or ``DemoError`` with its stderr."""
    done = subprocess.run(  # noqa: S603  (our own program)
        [sys.executable, "-m", "central", "--database-url", db_url, *args],
        capture_output=True, text=True, timeout=120, check=False, start_new_session=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise DemoError(f"hse-central {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def prepare_central(data_dir: Path, db_url: str, plant_id: str, agent_id: str) -> str:
    """Schema, the admin (password generated once) and the agent (token once); the password."""
    _central(["init"], db_url)
    password_file = data_dir / "admin-password"
    if not password_file.exists():
        write_secret(password_file, secrets.token_urlsafe(12))
        try:
            _central(
                [
                    "user",
                    "add",
                    ADMIN_NAME,
                    "--role",
                    "admin",
                    "--password-file",
                    str(password_file),
                ],
                db_url,
            )
        except DemoError:
            password_file.unlink()
            raise
    token_file = data_dir / "agent.token"
    if not token_file.exists():
        token = _central(
            ["agent", "add", "--plant", plant_id, "--region", "demo", "--agent-id", agent_id],
            db_url,
        ).strip()
        write_secret(token_file, token)
    return password_file.read_text(encoding="utf-8").strip()


def run_demo(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    data_dir = Path(args.data_dir).resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    source = read_yaml(Path(args.plant))
    if not isinstance(source, dict) or "plant_id" not in source or "agent_id" not in source:
        raise DemoError(f"{args.plant}: expected a plant config with plant_id and agent_id")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    children = Supervisor(data_dir / "logs", stop)
    code = 0
    try:
        _start_all(args, source, data_dir, children, out)
        while not stop.wait(0.5):
            if dead := children.dead():
                print(f"hse-sim demo: {', '.join(dead)} ended; stopping", file=out, flush=True)
                code = 1
                break
    except _StopRequested:
        pass  # asked to stop while starting: stop what started, as after a run
    except DemoError as exc:
        print(f"hse-sim demo: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        print("hse-sim demo: stopping", file=out, flush=True)
        children.stop_all(out)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("hse-sim demo: stopped", file=out, flush=True)
    return code


def _start_all(
    args: argparse.Namespace,
    source: dict[str, Any],
    data_dir: Path,
    children: Supervisor,
    out: TextIO,
) -> None:
    any_port = bool(args.free_ports)
    central_port = pick_port(CENTRAL_PORT, any_port=any_port)
    broker_port = pick_port(BROKER_PORT, any_port=any_port)
    status_port = pick_port(STATUS_PORT, any_port=any_port)
    central_url = f"http://127.0.0.1:{central_port}"
    db_url = f"sqlite:///{data_dir / 'central.db'}"
    print(f"hse-sim demo: starting in {data_dir} (logs in {data_dir / 'logs'})", file=out)

    password = prepare_central(data_dir, db_url, source["plant_id"], source["agent_id"])
    py = sys.executable
    central = children.start("central", [py, "-m", "central", "--database-url", db_url,
                                         "serve", "--host", "127.0.0.1", "--port", str(central_port),
                                         "--no-access-log"])  # fmt: skip
    children.wait_until("central", lambda: _accepts(central_port), "listening")
    print(f"  {'central':<11} pid {central.pid:<7} {central_url}", file=out, flush=True)

    mosquitto = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None
    )
    if mosquitto is not None:
        conf = data_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {broker_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        broker = children.start("broker", [mosquitto, "-c", str(conf)])
    else:
        broker = children.start("broker", [py, "-m", "simulators.mqtt_broker", "--port", str(broker_port)])  # fmt: skip
    broker_url = f"mqtt://127.0.0.1:{broker_port}"
    children.wait_until("broker", lambda: _accepts(broker_port), "listening")
    kind = "mosquitto" if mosquitto else "embedded broker"
    print(f"  {'broker':<11} pid {broker.pid:<7} {broker_url} ({kind})", file=out, flush=True)

    plant = rewrite_plant(source, data_dir=data_dir, central_url=central_url,
                          broker_url=broker_url, status_port=status_port, any_port=any_port)  # fmt: skip
    plant_file = data_dir / "demo-plant.yaml"
    plant_file.write_text(
        "# Written by hse-sim demo from " + str(args.plant) + "; rewritten at every start.\n"
        + yaml.safe_dump(plant, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )  # fmt: skip
    sims = children.start("simulators", [py, "-m", "simulators", "run", str(plant_file),
                                         "--scenario", args.scenario])  # fmt: skip
    log = data_dir / "logs" / "simulators.log"
    children.wait_until("simulators", lambda: "ready;" in log.read_text(errors="replace"), "ready")
    print(f"  {'simulators':<11} pid {sims.pid:<7} scenario {args.scenario}", file=out, flush=True)

    agent = children.start("agent", [py, "-m", "edge_agent", "run", "--config", str(plant_file)])
    children.wait_until("agent", lambda: _accepts(status_port), "status endpoint up")
    status_url = f"http://127.0.0.1:{status_port}/status"
    print(f"  {'agent':<11} pid {agent.pid:<7} {status_url}", file=out, flush=True)

    lines = ["hse-sim demo: ready"]
    if _answers(central_url + "/"):
        lines.append(f"  dashboard:     {central_url}/")
    lines += [
        f"  API docs:      {central_url}/api/v1/docs",
        f"  login:         {ADMIN_NAME} / {password}  (kept in {data_dir / 'admin-password'})",
        f"  agent status:  {status_url}   (or: hse-edge status --url {status_url[:-7]})",
        "Ctrl-C (or SIGTERM) stops everything.",
    ]
    # One write, so whoever watches for "ready" reads the URLs with it.
    print("\n".join(lines) + "\n", end="", file=out, flush=True)


def add_parser(sub: Any) -> None:
    """The ``demo`` subcommand of ``hse-sim``."""
    demo = sub.add_parser(
        "demo",
        help="run central, a broker, the demo plant's simulators and an agent until Ctrl-C",
        description="Start central (SQLite in --data-dir), an MQTT broker, the demo plant's "
        "simulators playing its scenario and an edge agent, each its own process; print the "
        "URLs and the login; stop them all on Ctrl-C or SIGTERM.",
    )
    demo.add_argument("--data-dir", default="./hse-demo-data", help="database, logs, secrets")
    demo.add_argument("--plant", type=Path, default=DEFAULT_PLANT, help="plant config to demo")
    demo.add_argument("--scenario", default="demo", help="scenario to play (default: demo)")
    demo.add_argument(
        "--free-ports", action="store_true", help="ports from the OS for every service"
    )
