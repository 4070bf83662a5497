"""Point keys to integer ids: registration from ``PointInfo``, creation on first sight, a cache.

A point's id never changes and points are never deleted, so an id, once committed, can be cached
for the life of the process. Ids created inside a transaction enter the cache only after that
transaction commits (:meth:`PointRegistry.remember`), so a rolled-back batch never leaves a
dangling id behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from central.core.epoch import to_us
from central.models import Area, Device, Point
from protocols.sync import PointInfo

_CHUNK = 500  # keys per IN (...) list, well under SQLite's and PostgreSQL's parameter limits

area_t: Table = Area.__table__  # type: ignore[attr-defined]
device_t: Table = Device.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_*`` on this connection's dialect."""
    if conn.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class PointRegistry:
    """Resolves ``plant/device/point`` keys to ids within a transaction; thread-safe cache."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def cached(self, keys: Iterable[str]) -> tuple[dict[str, int], list[str]]:
        """(ids known, keys not cached). Reads need no lock: dict reads are atomic."""
        ids = self._ids
        known: dict[str, int] = {}
        missing: list[str] = []
        for key in keys:
            pid = ids.get(key)
            if pid is None:
                missing.append(key)
            else:
                known[key] = pid
        return known, missing

    def remember(self, ids: Mapping[str, int]) -> None:
        """Cache ids that are committed."""
        if ids:
            with self._lock:
                self._ids.update(ids)

    def resolve(
        self,
        conn: Connection,
        *,
        plant_id: int,
        keys: Iterable[str],
        hints: Mapping[str, tuple[str, str]],
        now_us: int,
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Ids for ``keys``, creating unknown points from ``hints`` (quantity, unit).

        Returns (all ids, the ids read or created in this transaction: cache them after commit).
        """
        known, missing = self.cached(keys)
        if not missing:
            return known, {}
        found = self._select_ids(conn, missing)
        absent = [k for k in missing if k not in found]
        if absent:
            devices = self._device_ids(conn, plant_id, {k.split("/")[1] for k in absent})
            rows = []
            for key in absent:
                quantity, unit = hints.get(key, ("", ""))
                rows.append(
                    {
                        "key": key,
                        "plant_id": plant_id,
                        "device_id": devices[key.split("/")[1]],
                        "quantity": quantity,
                        "unit": unit,
                        "name": key.rsplit("/", 1)[1],
                        "limits": {},
                        "registered": False,
                        "created_ts": now_us,
                        "updated_ts": now_us,
                    }
                )
            conn.execute(insert_for(conn, point_t).on_conflict_do_nothing(), rows)
            found.update(self._select_ids(conn, absent))
        known.update(found)
        return known, found

    def register(
        self, conn: Connection, *, plant_id: int, infos: list[PointInfo], now_us: int
    ) -> dict[str, int]:
        """Create or update points from agent metadata; returns their ids (cache after commit)."""
        areas = self._area_ids(conn, plant_id, {i.area for i in infos if i.area})
        devices = self._device_ids(conn, plant_id, {i.device for i in infos})
        for info in infos:
            values: dict[str, Any] = {
                "plant_id": plant_id,
                "device_id": devices[info.device],
                "area_id": areas.get(info.area) if info.area else None,
                "zone": info.zone,
                "name": info.name or info.point.rsplit("/", 1)[1],
                "quantity": info.quantity,
                "unit": info.unit,
                "profile": info.profile,
                "range_low": info.range_low,
                "range_high": info.range_high,
                "limits": dict(info.limits),
                "poll_interval_s": info.poll_interval_s,
                "measured": info.measured,
                "registered": True,
                "updated_ts": now_us,
            }
            stmt = insert_for(conn, point_t).values(key=info.point, created_ts=now_us, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=values))
            conn.execute(
                device_t.update()
                .where(device_t.c.id == devices[info.device])
                .values(
                    profile=info.profile,
                    serial=info.device_serial,
                    calibration_due_ts=to_us(info.calibration_due)
                    if info.calibration_due
                    else None,
                    area_id=values["area_id"],
                )
            )
        return self._select_ids(conn, [i.point for i in infos])

    @staticmethod
    def _select_ids(conn: Connection, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(keys)):
            for pid, key in conn.execute(
                select(point_t.c.id, point_t.c.key).where(point_t.c.key.in_(chunk))
            ):
                found[key] = pid
        return found

    @staticmethod
    def _keyed_ids(conn: Connection, table: Table, plant_id: int, keys: set[str]) -> dict[str, int]:
        """Ids of (plant_id, key) rows of ``table`` (area or device), created when missing."""
        if not keys:
            return {}
        wanted = sorted(keys)

        def lookup() -> dict[str, int]:
            out: dict[str, int] = {}
            for chunk in _chunks(wanted):
                for rid, key in conn.execute(
                    select(table.c.id, table.c.key).where(
                        table.c.plant_id == plant_id, table.c.key.in_(chunk)
                    )
                ):
                    out[key] = rid
            return out

        ids = lookup()
        absent = [k for k in wanted if k not in ids]
        if absent:
            rows = [{"plant_id": plant_id, "key": k} for k in absent]
            if table is area_t:
                rows = [{**r, "name": r["key"]} for r in rows]
            else:
                rows = [{**r, "profile": ""} for r in rows]
            conn.execute(insert_for(conn, table).on_conflict_do_nothing(), rows)
            ids = lookup()
        return ids

    def _area_ids(self, conn: Connection, plant_id: int, keys: set[str | None]) -> dict[str, int]:
        return self._keyed_ids(conn, area_t, plant_id, {k for k in keys if k})

    def _device_ids(self, conn: Connection, plant_id: int, keys: set[str]) -> dict[str, int]:
        return self._keyed_ids(conn, device_t, plant_id, keys)
