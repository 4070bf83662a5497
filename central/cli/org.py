"""``hse-central agent|region|plant ...``: the org tree from the command line."""

from __future__ import annotations

import argparse

from sqlmodel import Session, col, select

from central import crud
from central.core.config import Settings
from central.core.db import write_session
from central.crud import org as org_crud
from central.models import Agent, Plant, PlantUpdate, Region
from device_profiles import Catalog

from .common import UsageError, engine_for, err


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="register and list edge agents")
    agent_sub = agent.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = agent_sub.add_parser("add", help="register an agent; prints its token once")
    add.add_argument("--plant", required=True, help="plant key (created when new)")
    add.add_argument("--region", help="region of a new plant (default 'default')")
    add.add_argument("--agent-id", help="agent key (default <plant>-<random>)")
    alist = agent_sub.add_parser("list", help="list agents")
    alist.add_argument("--plant", help="only this plant's agents")

    region = sub.add_parser("region", help="regions of the fleet")
    region_sub = region.add_subparsers(dest="action", required=True, metavar="ACTION")
    radd = region_sub.add_parser("add", help="add a region")
    radd.add_argument("key")
    radd.add_argument("--name", default="")

    plant = sub.add_parser("plant", help="plants: register, set limit set and time zone")
    plant_sub = plant.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("add", "register a plant"), ("set", "change a plant's settings")):
        p = plant_sub.add_parser(name, help=text)
        p.add_argument("key")
        if name == "add":
            p.add_argument("--region", default="default")
        p.add_argument("--name")
        p.add_argument("--limit-set", help="exposure limit set id (e.g. cn-gbz-2019)")
        p.add_argument("--timezone", help="IANA time zone (e.g. Asia/Shanghai)")
    plant_sub.add_parser("list", help="list plants")


def agent_add(settings: Settings, args: argparse.Namespace) -> int:
    with engine_for(settings) as engine, write_session(engine) as session:
        agent, token = crud.create_agent(
            session, plant=args.plant, region=args.region, agent_key=args.agent_id
        )
        key = agent.key
    err(f"agent {key!r} registered for plant {args.plant!r}; its token (shown once):")
    print(token)
    return 0


def agent_list(settings: Settings, args: argparse.Namespace) -> int:
    with engine_for(settings, init=False) as engine, Session(engine) as session:
        stmt = (
            select(Agent.key, Plant.key, Region.key, Agent.is_active)
            .join(Plant, col(Plant.id) == Agent.plant_id)
            .join(Region, col(Region.id) == Plant.region_id)
            .order_by(col(Agent.key))
        )
        if args.plant:
            stmt = stmt.where(Plant.key == args.plant)
        for agent_key, plant_key, region_key, active in session.exec(stmt):
            state = "active" if active else "disabled"
            print(f"{agent_key}\tplant={plant_key}\tregion={region_key}\t{state}")
    return 0


def region_add(settings: Settings, args: argparse.Namespace) -> int:
    with engine_for(settings) as engine, write_session(engine) as session:
        org_crud.create_region(session, key=args.key, name=args.name)
    err(f"region {args.key!r} added")
    return 0


def plant_add_or_set(settings: Settings, args: argparse.Namespace) -> int:
    catalog = Catalog(settings.catalog_dirs)
    fields = {
        k: v
        for k, v in {
            "name": args.name,
            "limit_set": args.limit_set,
            "timezone": args.timezone,
        }.items()
        if v is not None
    }
    with engine_for(settings) as engine, write_session(engine) as session:
        existing = session.exec(select(Plant).where(Plant.key == args.key)).first()
        if args.action == "add":
            if existing is not None:
                raise UsageError(f"plant {args.key!r} exists already (hse-central plant set)")
            plant = crud.get_or_create_plant(session, key=args.key, region=args.region)
        else:
            if existing is None:
                raise UsageError(f"no plant {args.key!r} (hse-central plant add)")
            plant = existing
        org_crud.update_plant(session, plant=plant, update=PlantUpdate(**fields), catalog=catalog)
    err(f"plant {args.key!r} {'registered' if args.action == 'add' else 'updated'}")
    return 0


def plant_list(settings: Settings) -> int:
    with engine_for(settings, init=False) as engine, Session(engine) as session:
        for plant, region in session.exec(
            select(Plant, Region)
            .join(Region, col(Region.id) == Plant.region_id)
            .order_by(col(Plant.key))
        ):
            print(
                f"{plant.key}\tregion={region.key}\tlimit_set={plant.limit_set or '-'}\t"
                f"timezone={plant.timezone or '-'}"
            )
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "agent":
        return agent_add(settings, args) if args.action == "add" else agent_list(settings, args)
    if args.command == "region":
        return region_add(settings, args)
    if args.action == "list":
        return plant_list(settings)
    return plant_add_or_set(settings, args)


__all__ = ["add_parsers", "run"]
