"""Central's current state of every alarm, moved forward by the events of each batch.

Called inside the ingest transaction with the batch's fresh events. An event of an alarm
(``alarm``/``exposure``, id ``details.alarm_id`` or ``<point>:<name>``) or a fault
(``<point>:fault.<kind>``) upserts one ``alarm_state`` row; the update applies only when the
event is newer (event time, then seq) than the one the row holds, so a backlog arriving late
never rolls a state back. The event's ``state`` (the ISA-18.2 state after the transition) and
its details (``active``, ``acked``, ``latched``, ``shelved_until``) are taken as the agent sent
them; events without them (older agents) get the state their transition implies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, tuple_

from central.models import AlarmState

from .points import insert_for

alarm_t: Table = AlarmState.__table__  # type: ignore[attr-defined]

TRACKED = frozenset({"alarm", "exposure", "fault"})
_STATE_OF_TRANSITION = {
    "raise": "active_unacked",
    "re_alarm": "active_unacked",
    "clear": "normal",
    "ack": "active_acked",
    "shelve": "shelved",
    "unshelve": "active_unacked",
    "reset": "normal",
    "suppress": "suppressed",
    "out_of_service": "out_of_service",
}


def alarm_id_of(event: Mapping[str, Any]) -> str | None:
    point = event["point"]
    if point is None or event["category"] not in TRACKED:
        return None
    if event["category"] == "fault":
        return f"{point}:{event['kind']}"
    given = (event.get("details") or {}).get("alarm_id")
    if isinstance(given, str) and given:
        return given[:270]
    return f"{point}:{event['kind'].split('.', 1)[-1]}"


def _fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """The columns this event decides (others keep what the row holds)."""
    transition = event["transition"]
    details = event.get("details") or {}
    ts = event["ts"]
    if event["category"] == "fault":
        active = transition != "clear"
        return {"state": "fault" if active else "ok", "active": active, "acked": True}
    out: dict[str, Any] = {
        "state": event["state"] or _STATE_OF_TRANSITION.get(transition, "active_unacked")
    }
    for name in ("active", "acked", "latched"):
        if isinstance(details.get(name), bool):
            out[name] = details[name]
    if "active" not in out and transition in {"raise", "re_alarm", "clear"}:
        out["active"] = transition != "clear"
    if "acked" not in out and transition in {"raise", "re_alarm", "ack", "shelve"}:
        out["acked"] = transition in {"ack", "shelve"}
    if "shelved_until" in details:
        until = details["shelved_until"]
        out["shelved_until_ts"] = (
            round(until * 1_000_000) if isinstance(until, int | float) else None
        )
    elif transition == "unshelve":
        out["shelved_until_ts"] = None
    if transition in {"raise", "re_alarm"}:
        if transition == "raise":
            out["raised_ts"] = ts
            out["cleared_ts"] = None
        out["acked_ts"] = None
    elif transition in {"ack", "shelve"} and out.get("acked"):
        out["acked_ts"] = ts
    elif transition == "clear":
        out["cleared_ts"] = ts
    return out


def apply_alarm_events(
    conn: Connection,
    *,
    agent_id: int,
    plant_id: int,
    events: list[dict[str, Any]],
    fresh: set[int] | None,
    point_ids: Mapping[str, int],
) -> int:
    """Upsert the alarm rows the fresh events concern; returns how many events applied."""
    todo = [e for e in events if (fresh is None or e["seq"] in fresh) and alarm_id_of(e)]
    todo.sort(key=lambda e: (e["ts"], e["seq"]))
    for e in todo:
        fields = _fields(e)
        latest = {
            "agent_id": agent_id,
            "priority": e["priority"],
            "last_transition": e["transition"],
            "last_ts": e["ts"],
            "last_seq": e["seq"],
            "last_actor": e["actor"],
            "value": e["value"],
            "limit_value": e["limit_value"],
            "message": e["message"],
            **fields,
        }
        row = {
            "alarm_id": alarm_id_of(e),
            "plant_id": plant_id,
            "point_id": point_ids[e["point"]],
            "category": e["category"],
            "kind": e["kind"],
            "active": False,
            "acked": True,
            "latched": False,
            **latest,
        }
        stmt = insert_for(conn, alarm_t).values(row)
        newer = tuple_(alarm_t.c.last_ts, alarm_t.c.last_seq) < tuple_(
            stmt.excluded.last_ts, stmt.excluded.last_seq
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["alarm_id"],
                set_={k: stmt.excluded[k] for k in latest},
                where=newer,
            )
        )
    return len(todo)


__all__ = ["TRACKED", "alarm_id_of", "apply_alarm_events"]
