"""``hse-central personnel import FILE --plant P``: an HR export into central (audited), and
the plant's qualification list queued for its agents."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlmodel import select

from central.core.config import Settings
from central.core.db import write_session
from central.core.epoch import now_us
from central.crud import audit, people
from central.models import Plant
from central.personnel_import import parse_personnel_csv

from .common import UsageError, cli_actor, engine_for, err


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    personnel = sub.add_parser("personnel", help="personnel and qualifications")
    p_sub = personnel.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = p_sub.add_parser("import", help="import a CSV file (whole or not at all)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--plant", required=True)
    imp.add_argument(
        "--replace", action="store_true", help="remove the plant's people missing from the file"
    )


def personnel_import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from exc
    records = parse_personnel_csv(data, source=str(path))
    actor = cli_actor()
    with engine_for(settings) as engine, write_session(engine) as session:
        plant = session.exec(select(Plant).where(Plant.key == args.plant)).first()
        if plant is None or plant.id is None:
            raise UsageError(f"no plant {args.plant!r} (hse-central plant add)")
        written = people.write_people(
            session,
            plant_id=plant.id,
            records=records,
            replace=args.replace,
            actor=f"cli:{actor.name}",
        )
        commands = people.sync_plant_personnel(session, plant_id=plant.id)
        audit.record(
            session,
            actor=actor,
            now=now_us(),
            action="personnel.import",
            category="personnel",
            plant_id=plant.id,
            records=[r.person_id for r in records],
            details={"file": path.name, "replace": args.replace, "removed": written.removed},
        )
    err(
        f"{path}: {len(records)} people for plant {args.plant!r}: {written.created} new, "
        f"{written.updated} changed, {written.unchanged} unchanged, {written.removed} removed; "
        f"{len(commands)} agent(s) get the new qualification list"
    )
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    return personnel_import(settings, args)


__all__ = ["add_parsers", "run"]
