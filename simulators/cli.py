"""``hse-sim``: serve a simulated plant over the real protocols, list the catalogue, check files.

    hse-sim run PLANT.yaml [--scenario ID|FILE|none] [--seed N] [--bind HOST] [--duration S]
    hse-sim profiles | limit-sets | scenarios [--profiles-dir DIR]
    hse-sim check FILE [FILE ...]
    hse-sim demo [--data-dir DIR] [--free-ports]     central, broker, simulators and an agent

Exit status: 0 success, 1 a file or the plant is invalid or a server failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import structlog

from device_profiles import Catalog, DeviceProfile, LimitSet, ProfileError, Scenario
from device_profiles.loader import detect_kind, load_any, load_scenario, read_yaml

from .device import SimDevice
from .plant import (
    PlantPlan,
    PlantSimulation,
    ServerFactory,
    SimulationError,
    build_devices,
    default_server,
    load_plant,
    plan_servers,
)
from .scenario import ScenarioError, check_scenario

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hse-sim",
        description="Simulated plant devices and safety PLCs over Modbus, OPC UA and MQTT.",
    )
    parser.add_argument(
        "--profiles-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="extra folder with profiles/, limit_sets/, scenarios/ (searched before the built-ins)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="serve every device of a plant config and play its scenario",
        description="Start one server per endpoint of the plant config, print the endpoints, "
        "play the scenario and serve until SIGINT/SIGTERM (or --duration).",
    )
    run.add_argument("plant", type=Path, help="plant config YAML (devices, plcs, simulation)")
    run.add_argument(
        "--scenario",
        help="scenario id from the catalogue, a scenario YAML file, or 'none' "
        "(default: the plant's simulation.scenario)",
    )
    run.add_argument(
        "--seed",
        type=int,
        help="signal seed (default: the plant's simulation.seed, else the scenario's seed)",
    )
    run.add_argument(
        "--bind", metavar="HOST", help="listen on HOST instead of the host in each device URL"
    )
    run.add_argument(
        "--serial-map",
        action="append",
        default=[],
        metavar="AGENT=SIM",
        help="serve the serial port the agent opens as AGENT on SIM (e.g. a pty pair end)",
    )
    run.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    run.add_argument(
        "--dry-run", action="store_true", help="check and print the server plan, start nothing"
    )

    sub.add_parser("profiles", help="list the device profiles of the catalogue")
    sub.add_parser("limit-sets", help="list the exposure limit sets")
    sub.add_parser("scenarios", help="list the scenario packs")

    check = sub.add_parser(
        "check",
        help="validate profile, limit set, scenario or plant config files",
        description="Validate each file; errors name the file, the field path and the value.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")

    from .demo import add_parser as add_demo_parser

    add_demo_parser(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, *, server_factory: ServerFactory = default_server
) -> int:
    """Run ``hse-sim``; returns the exit status (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    catalog = Catalog(extra_dirs=args.profiles_dir)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "run":
            return _run(args, catalog, server_factory, out)
        if args.command == "check":
            return _check(args.files, catalog, out, err)
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(args, out)
        return _list(args.command, catalog, out, err)
    except (ProfileError, ScenarioError, SimulationError) as exc:
        print(f"hse-sim: {exc}", file=err)
        return 1


def _list(command: str, catalog: Catalog, out: TextIO, err: TextIO) -> int:
    status = 0
    ids = {
        "profiles": catalog.profile_ids,
        "limit-sets": catalog.limit_set_ids,
        "scenarios": catalog.scenario_ids,
    }[command]()
    for ident in ids:
        try:
            print(_describe_id(command, ident, catalog), file=out)
        except ProfileError as exc:
            print(f"hse-sim: {exc}", file=err)
            status = 1
    return status


def _describe_id(command: str, ident: str, catalog: Catalog) -> str:
    if command == "profiles":
        p = catalog.profile(ident)
        return (
            f"{p.id:<16} {p.protocol.value:<7} {p.kind:<22} {len(p.points):>3} points  "
            f"{p.manufacturer} {p.model}"
        )
    if command == "limit-sets":
        s = catalog.limit_set(ident)
        noise = "noise" if s.noise is not None else "-"
        return f"{s.id:<16} {s.jurisdiction:<10} {len(s.substances):>2} substances  {noise:<5}  {s.name}"
    sc = catalog.scenario(ident)
    return f"{sc.id:<16} {len(sc.steps):>3} steps  {sc.description}"


def _check(files: Sequence[Path], catalog: Catalog, out: TextIO, err: TextIO) -> int:
    status = 0
    for path in files:
        try:
            print(f"ok  {path}: {_check_one(path, catalog)}", file=out)
        except (ProfileError, ScenarioError) as exc:
            print(f"{path}: {exc}" if isinstance(exc, ScenarioError) else str(exc), file=err)
            status = 1
    return status


def _check_one(path: Path, catalog: Catalog) -> str:
    data = read_yaml(path)
    if detect_kind(path, data) is None and isinstance(data, dict) and "plant_id" in data:
        plant, profiles = load_plant(path, catalog)
        plan = plan_servers(plant, profiles, file=path)
        count = len(plant.devices) + len(plant.plcs)
        scenario = _scenario(plant.simulation.scenario, catalog)
        if scenario is not None:
            seed = _seed(None, plant.simulation.seed, scenario)
            check_scenario(scenario, build_devices(plant, profiles, seed=seed))
        return (
            f"plant {plant.plant_id} ({count} devices on {len(plan.servers)} endpoints, "
            f"scenario {scenario.id if scenario else 'none'})"
        )
    loaded = load_any(path)
    if isinstance(loaded, DeviceProfile):
        return f"profile {loaded.id} ({loaded.protocol.value}, {len(loaded.points)} points)"
    if isinstance(loaded, LimitSet):
        return f"limit set {loaded.id} ({len(loaded.substances)} substances)"
    return f"scenario {loaded.id} ({len(loaded.steps)} steps)"


def _scenario(choice: str | None, catalog: Catalog) -> Scenario | None:
    if choice is None or choice == "none":
        return None
    if choice.endswith((".yaml", ".yml")) or Path(choice).is_file():
        return load_scenario(choice)
    try:
        return catalog.scenario(choice)
    except KeyError as exc:
        raise ScenarioError(str(exc.args[0])) from None


def _seed(cli: int | None, plant: int | None, scenario: Scenario | None) -> int:
    """--seed, else the plant's simulation.seed, else the scenario's seed, else 0."""
    for seed in (cli, plant, scenario.seed if scenario is not None else None):
        if seed is not None:
            return seed
    return 0


def _run(args: argparse.Namespace, catalog: Catalog, factory: ServerFactory, out: TextIO) -> int:
    plant, profiles = load_plant(args.plant, catalog)
    serial_map = {}
    for item in args.serial_map:
        agent, sep, sim = item.partition("=")
        if not sep or not agent or not sim:
            raise SimulationError(f"--serial-map {item!r} must be AGENT=SIM")
        serial_map[agent] = sim
    plan = plan_servers(
        plant, profiles, file=args.plant, bind_host=args.bind, serial_map=serial_map
    )
    scenario = _scenario(
        args.scenario if args.scenario is not None else plant.simulation.scenario, catalog
    )
    seed = _seed(args.seed, plant.simulation.seed, scenario)
    devices = build_devices(plant, profiles, seed=seed)
    _print_plan(plan, devices, scenario, seed, out)
    if args.dry_run:
        return 0
    _configure_logging()
    asyncio.run(_serve(plan, devices, scenario, factory, args.duration, out))
    return 0


def _print_plan(
    plan: PlantPlan,
    devices: dict[str, SimDevice],
    scenario: Scenario | None,
    seed: int,
    out: TextIO,
) -> None:
    print(
        f"plant {plan.plant_id}: {len(devices)} devices on {len(plan.servers)} endpoints, "
        f"scenario {scenario.id if scenario else 'none'}, seed {seed}",
        file=out,
    )
    for server in plan.servers:
        names = ", ".join(f"{d} ({devices[d].profile.id})" for d in server.device_ids)
        print(f"  {server.endpoint}: {names}", file=out)
    out.flush()


async def _serve(
    plan: PlantPlan,
    devices: dict[str, SimDevice],
    scenario: Scenario | None,
    factory: ServerFactory,
    duration_s: float | None,
    out: TextIO,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with PlantSimulation(plan, devices, scenario, server_factory=factory) as sim:
            for server_plan, endpoint in sim.endpoints():
                print(f"serving {endpoint}  [{', '.join(server_plan.device_ids)}]", file=out)
            print("ready; Ctrl-C or SIGTERM stops", file=out)
            out.flush()
            if duration_s is not None:
                loop.call_later(duration_s, stop.set)
            await sim.run(stop)
        print("stopped", file=out)
        out.flush()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _configure_logging() -> None:
    """structlog to stderr: console lines on a terminal, JSON otherwise (ARCHITECTURE §6)."""
    if structlog.is_configured():
        return
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        # sys.stderr looked up per logger, so a replaced stream (tests, daemons) is honoured
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
    )
