"""``hse-edge``: run the agent, check its config, show its status, probe a device."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from device_profiles import Catalog, ProfileError
from protocols import ConfigError as DriverConfigError

from .config import ConfigError, load_config
from .logs import configure_logging
from .plant import ResolvedPlant, resolve_plant

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_FAILED = 4


def _load(path: str) -> ResolvedPlant:
    config = load_config(path)
    return resolve_plant(config, file=path)


def cmd_check_config(args: argparse.Namespace) -> int:
    plant = _load(args.config)
    n_points = len(plant.points())
    print(
        f"{args.config}: OK: plant {plant.config.plant_id}, {len(plant.devices)} device(s), "
        f"{n_points} point(s), {len(plant.plcs)} PLC(s), limit set {plant.limit_set.id}"
    )
    return 0


class AgentFailedError(RuntimeError):
    """The agent stopped because one of its tasks failed; a supervisor should restart it."""


async def _run(plant: ResolvedPlant) -> None:
    from .agent import Agent

    token = None
    if plant.config.central.url:
        base = Path(plant.config.outbox.path).parent
        token = plant.config.central.resolve_token(base, os.environ)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Agent(plant, token=token) as agent:
        if not await agent.wait(stop):
            raise AgentFailedError("a task of the agent failed (see the log); stopping")


def cmd_run(args: argparse.Namespace) -> int:
    plant = _load(args.config)
    configure_logging(args.log_level)
    try:
        asyncio.run(_run(plant))
    except LookupError as exc:  # a token that cannot be found
        print(f"{args.config}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AgentFailedError as exc:
        print(f"hse-edge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/") + "/status"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as resp:  # noqa: S310  (a local http URL)
            status = json.load(resp)
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach the agent's status endpoint at {url}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"plant {status['plant_id']}  agent {status['agent_id']}")
    print(f"{'device':<20} {'state':<6} {'interval':>8} {'polls':>8} {'overruns':>8}  last error")
    for d in status["devices"]:
        state = "up" if d["connected"] else "DOWN"
        print(
            f"{d['device']:<20} {state:<6} {d['poll_interval_s']:>7}s {d['polls']:>8} {d['overruns']:>8}  "
            f"{d['last_error'] or ''}"
        )
    outbox = status.get("outbox") or {}
    sync = status.get("sync") or {}
    print(
        f"outbox: {outbox.get('backlog_records', '?')} record(s) waiting, {outbox.get('bytes_used', '?')} bytes used"
    )
    print(
        f"sync: last success {sync.get('last_success_ts') or 'never'}, state {sync.get('state', 'off')}"
    )
    return 0


def cmd_alarms(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    if args.action == "list":
        url = base + "/alarms" + ("?all=1" if args.all else "")
        try:
            with urllib.request.urlopen(url, timeout=args.timeout) as resp:  # noqa: S310  (a local http URL)
                data = json.load(resp)
        except (urllib.error.URLError, OSError) as exc:
            print(f"cannot reach the agent at {url}: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        if args.json:
            print(json.dumps(data, indent=2))
            return 0
        rows = data.get("alarms", [])
        print(f"{'alarm':<44} {'state':<22} {'priority':<9} {'value':>10} {'limit':>10}")
        for a in rows:
            value = "-" if a["value"] is None else f"{a['value']:.4g}"
            limit = "-" if a["limit"] is None else f"{a['limit']:.4g}"
            print(
                f"{a['alarm_id']:<44} {a['state']:<22} {a['priority']:<9} {value:>10} {limit:>10}"
            )
        if not rows:
            print("(no alarm away from normal)")
        return 0
    token = os.environ.get(args.token_env)
    if not token:
        print(
            f"set {args.token_env} to the agent's operator token to act on alarms", file=sys.stderr
        )
        return EXIT_CONFIG
    body: dict[str, object] = {"action": args.action, "alarm_id": args.alarm_id, "actor": args.actor,
                               "reason": args.reason}  # fmt: skip
    if args.action == "shelve":
        body["shelve_s"] = args.minutes * 60
    request = urllib.request.Request(  # noqa: S310  (a local http URL)
        base + "/alarms/action", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as resp:  # noqa: S310
            result = json.load(resp)
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        print(f"{args.action} refused ({exc.code}): {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach the agent at {base}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(
        f"{args.alarm_id}: {', '.join(result['transitions']) or 'no change'} -> {result['state']}"
    )
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from .probe import ProbeError, format_table, probe

    catalog = Catalog(args.profiles_dir)
    configure_logging("error")  # the probe's own message says what went wrong
    try:
        rows = asyncio.run(
            probe(
                args.url,
                args.profile,
                unit_id=args.unit_id,
                timeout_s=args.timeout,
                wait_s=args.wait,
                catalog=catalog,
            )
        )
    except ProbeError as exc:
        print(f"probe failed: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print(
            json.dumps(
                {
                    "url": args.url,
                    "profile": args.profile,
                    "points": [dataclasses.asdict(r) for r in rows],
                },
                default=str,
            )
        )
    else:
        print(format_table(rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hse-edge", description="HSE edge agent: one per plant.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent until SIGTERM/SIGINT")
    run.add_argument("--config", required=True, help="plant config YAML")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a plant config, its profiles and rules")
    check.add_argument("config", help="plant config YAML")
    check.set_defaults(func=cmd_check_config)

    status = sub.add_parser("status", help="show a running agent's devices, outbox and sync")
    status.add_argument(
        "--url", default="http://127.0.0.1:8710", help="the agent's status endpoint"
    )
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    status.add_argument("--timeout", type=float, default=5.0)
    status.set_defaults(func=cmd_status)

    alarms = sub.add_parser("alarms", help="list alarms, or ack / shelve / unshelve / reset one")
    alarms.add_argument(
        "action", choices=["list", "ack", "shelve", "unshelve", "reset"], nargs="?", default="list"
    )
    alarms.add_argument("alarm_id", nargs="?", help="e.g. plant-1/gas-north/h2s:hh")
    alarms.add_argument(
        "--url", default="http://127.0.0.1:8710", help="the agent's status endpoint"
    )
    alarms.add_argument(
        "--actor", default=os.environ.get("USER", "operator"), help="who acts (recorded)"
    )
    alarms.add_argument(
        "--reason", default="", help="why (recorded; site practice asks it for shelving)"
    )
    alarms.add_argument("--minutes", type=float, default=60.0, help="shelve for this long")
    alarms.add_argument(
        "--all", action="store_true", help="every alarm, not only those away from normal"
    )
    alarms.add_argument("--json", action="store_true")
    alarms.add_argument(
        "--token-env", default="HSE_EDGE_OPERATOR_TOKEN", help="variable holding the operator token"
    )
    alarms.add_argument("--timeout", type=float, default=5.0)
    alarms.set_defaults(func=cmd_alarms)

    probe = sub.add_parser(
        "probe", help="read a device once through a profile and print every point"
    )
    probe.add_argument("url", help="device URL, e.g. modbus+tcp://10.0.0.5:502")
    probe.add_argument("--profile", required=True, help="profile id (see `hse-sim profiles`)")
    probe.add_argument(
        "--unit-id", type=int, default=None, help="Modbus unit id (default: the profile's)"
    )
    probe.add_argument(
        "--timeout", type=float, default=2.0, help="connect and read timeout, seconds"
    )
    probe.add_argument(
        "--wait", type=float, default=5.0, help="streaming devices: how long to wait for messages"
    )
    probe.add_argument("--profiles-dir", action="append", default=[], help="extra profile folder")
    probe.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    probe.set_defaults(func=cmd_probe)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "alarms" and args.action != "list" and not args.alarm_id:
        parser.error(f"alarms {args.action} needs an alarm id")
    try:
        code: int = args.func(args)
    except (ConfigError, ProfileError, DriverConfigError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except KeyError as exc:  # an unknown profile id in probe
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_CONFIG
    return code


if __name__ == "__main__":
    sys.exit(main())
