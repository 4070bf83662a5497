"""The low-volume records of a batch, written with SQLAlchemy Core on either database.

Aggregates, events, gaps and command results are few per batch next to readings, so they share
one portable code path; the agent's heartbeat and its command queue live here too. Events also
move central's alarm states forward (:mod:`central.store.alarms`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, and_, select, update

from central.core.epoch import from_us
from central.models import AgentHealth, Command, CommandResult, CommandStatus, Event, Gap
from central.models import ReadingAggregate as AggregateRow
from protocols.sync import Command as WireCommand

from .alarms import apply_alarm_events
from .points import insert_for

aggregate_t: Table = AggregateRow.__table__  # type: ignore[attr-defined]
event_t: Table = Event.__table__  # type: ignore[attr-defined]
gap_t: Table = Gap.__table__  # type: ignore[attr-defined]
result_t: Table = CommandResult.__table__  # type: ignore[attr-defined]
command_t: Table = Command.__table__  # type: ignore[attr-defined]
health_t: Table = AgentHealth.__table__  # type: ignore[attr-defined]


def _with_ids(
    rows: list[dict[str, Any]],
    *,
    fresh: set[int] | None,
    point_ids: Mapping[str, int],
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if fresh is not None and row["seq"] not in fresh:
            continue
        values = {k: v for k, v in row.items() if k != "point"}
        if "point" in row:
            values["point_id"] = point_ids[row["point"]] if row["point"] is not None else None
        out.append({**values, **extra})
    return out


def insert_records(
    conn: Connection,
    *,
    agent_id: int,
    plant_id: int,
    aggregates: list[dict[str, Any]],
    events: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
    command_results: list[dict[str, Any]],
    fresh: set[int] | None,
    point_ids: Mapping[str, int],
) -> None:
    """Insert the records whose seq is fresh (``fresh`` None: all are)."""
    owner = {"agent_id": agent_id}
    located = {"agent_id": agent_id, "plant_id": plant_id}
    for table, rows, extra in (
        (aggregate_t, aggregates, owner),
        (event_t, events, located),
        (gap_t, gaps, located),
        (result_t, command_results, owner),
    ):
        todo = _with_ids(rows, fresh=fresh, point_ids=point_ids, extra=extra)
        if todo:
            conn.execute(table.insert(), todo)
    if events:
        apply_alarm_events(
            conn,
            agent_id=agent_id,
            plant_id=plant_id,
            events=events,
            fresh=fresh,
            point_ids=point_ids,
        )
    done = [r for r in command_results if fresh is None or r["seq"] in fresh]
    if done:
        _complete_commands(conn, agent_id, done)


def _complete_commands(conn: Connection, agent_id: int, results: list[dict[str, Any]]) -> None:
    for r in results:
        conn.execute(
            update(command_t)
            .where(
                and_(
                    command_t.c.id == r["command_id"],
                    command_t.c.agent_id == agent_id,
                    command_t.c.status == CommandStatus.PENDING.value,
                )
            )
            .values(
                status=(CommandStatus.DONE if r["ok"] else CommandStatus.FAILED).value,
                done_ts=r["ts"],
                result_ok=r["ok"],
                result_message=r["message"],
            )
        )


def upsert_health(
    conn: Connection, *, agent_id: int, health: dict[str, Any] | None, received_us: int
) -> None:
    """Keep the agent's newest heartbeat and the time of its last batch."""
    if health is None:
        stmt = insert_for(conn, health_t).values(
            agent_id=agent_id, last_batch_ts=received_us, devices=[]
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["agent_id"], set_={"last_batch_ts": received_us}
            )
        )
        return
    values = {**health, "received_ts": received_us, "last_batch_ts": received_us}
    stmt = insert_for(conn, health_t).values(agent_id=agent_id, **values)
    # An older heartbeat (a delayed retry) must not replace a newer one ...
    newer = (health_t.c.ts.is_(None)) | (health_t.c.ts <= stmt.excluded.ts)
    conn.execute(stmt.on_conflict_do_update(index_elements=["agent_id"], set_=values, where=newer))
    # ... but the batch itself still shows the agent is alive.
    conn.execute(
        update(health_t).where(health_t.c.agent_id == agent_id).values(last_batch_ts=received_us)
    )


def deliver_commands(
    conn: Connection, *, agent_id: int, limit: int, now_us: int
) -> list[WireCommand]:
    """The agent's pending commands, oldest first, counted as delivered once more."""
    if limit <= 0:
        return []
    rows = conn.execute(
        select(
            command_t.c.id,
            command_t.c.kind,
            command_t.c.issued_ts,
            command_t.c.issued_by,
            command_t.c.payload,
        )
        .where(
            command_t.c.agent_id == agent_id,
            command_t.c.status == CommandStatus.PENDING.value,
        )
        .order_by(command_t.c.issued_ts, command_t.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    conn.execute(
        update(command_t)
        .where(command_t.c.id.in_([r.id for r in rows]))
        .values(delivered_count=command_t.c.delivered_count + 1, last_delivered_ts=now_us)
    )
    return [
        WireCommand(
            id=r.id,
            kind=r.kind,
            issued_at=from_us(r.issued_ts),
            issued_by=r.issued_by,
            payload=r.payload or {},
        )
        for r in rows
    ]
