"""Alarm handling through central, with the edge's real rules engine on the other side:
an alarm raised at the edge shows active centrally; an ack through the API becomes a command in
the plant agent's next BatchAck; the agent applies it (as ``Safety.on_command`` does) and its
ack event moves central's state to acked. Scope, roles and the shelving rules are checked on the
way. In process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from edge_agent.outbox.codec import KIND_EVENT, event_body, event_lane_model
from edge_agent.records import EventRecord
from edge_agent.rules import AlarmAction, RulesError
from protocols.sync import AgentHealth, AlarmEvent, BatchAck, Command, CommandKind, CommandResult
from tests.support.central import (
    Seqs,
    SetClock,
    Target,
    asgi_target,
    batch,
    point_info,
    unique,
)
from tests.unit.rules_kit import Harness, gas_point


class Edge:
    """One plant's agent side: the real rules engine, events in their wire form (the outbox's
    codec), and commands applied with the payload contract of ``Safety.on_command``."""

    ACTIONS: ClassVar[dict[CommandKind, AlarmAction]] = {
        CommandKind.ALARM_ACK: AlarmAction.ACK,
        CommandKind.ALARM_SHELVE: AlarmAction.SHELVE,
        CommandKind.ALARM_UNSHELVE: AlarmAction.UNSHELVE,
        CommandKind.ALARM_RESET: AlarmAction.RESET,
    }

    def __init__(self, plant: str, agent: str, token: str) -> None:
        self.plant, self.agent, self.token = plant, agent, token
        self.point = f"{plant}/gd-1/h2s"
        self.rules = Harness(points=[gas_point(point_id=self.point)])
        self.seqs = Seqs()
        self.sent = 0

    def wire(self, events: list[EventRecord]) -> list[AlarmEvent]:
        out = []
        for e in events:
            model = event_lane_model(self.seqs.take(), KIND_EVENT, event_body(e))
            assert isinstance(model, AlarmEvent)
            out.append(model)
        return out

    def apply(self, command: Command) -> tuple[list[EventRecord], CommandResult]:
        payload = command.payload
        action = self.ACTIONS.get(command.kind)
        events: list[EventRecord] = []
        if action is None:
            ok, message = False, f"command {command.kind.value} is not handled at the edge"
        else:
            until = payload.get("until")
            until_s = datetime.fromisoformat(until).timestamp() if isinstance(until, str) else until
            try:
                events = self.rules.engine.command(
                    action,
                    alarm_id=str(payload["alarm_id"]),
                    actor=f"central:{command.issued_by}",
                    now=self.rules.t,
                    reason=str(payload.get("reason", "")),
                    until=until_s,
                )
                ok, message = True, f"{action.value} applied"
            except RulesError as exc:
                ok, message = False, str(exc)
        result = CommandResult(
            seq=self.seqs.take(),
            command_id=command.id,
            ok=ok,
            message=message,
            ts=datetime.fromtimestamp(self.rules.t, UTC),
        )
        return events, result

    async def send(
        self,
        t: Target,
        events: list[AlarmEvent] | None = None,
        results: list[CommandResult] | None = None,
    ) -> BatchAck:
        self.sent += 1
        b = batch(
            self.agent,
            self.plant,
            batch_id=f"b{self.sent}",
            lane="events",
            events=events or [],
            command_results=results or [],
            points=[point_info(self.point, area="unit-1")] if self.sent == 1 else [],
            health=AgentHealth(ts=datetime.fromtimestamp(self.rules.t, UTC)),
        )
        r = await t.ingest(b, self.token)
        assert r.status_code == 200, r.text
        return BatchAck.model_validate_json(r.content)


@pytest.fixture
def clock() -> SetClock:
    return SetClock(0)


@pytest.fixture
async def target(database_url: str, admin_name: str, clock: SetClock) -> AsyncIterator[Target]:
    async with asgi_target(database_url, admin_name, clock=clock) as t:
        yield t


@pytest.fixture
async def edge(target: Target, clock: SetClock) -> Edge:
    plant, agent, token = await target.new_agent(unique("plant"), region="east")
    e = Edge(plant, agent, token)
    clock.us = round(e.rules.t * 1_000_000)  # central and the edge agree on the time
    return e


async def alarm_state(t: Target, token: str, alarm_id: str) -> dict[str, object]:
    r = await t.get(f"/api/v1/alarms/{alarm_id}", token)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_raise_ack_command_ack_event_acked(target: Target, edge: Edge) -> None:
    await edge.send(target, edge.wire(edge.rules.value(25)))  # above H (10) and HH (20)
    operator = await target.new_user("operator", f"plant:{edge.plant}")
    listed = await target.get("/api/v1/alarms", operator, plant=edge.plant)
    assert listed.status_code == 200, listed.text
    rows = {a["alarm_id"]: a for a in listed.json()["alarms"]}
    hh = f"{edge.point}:hh"
    assert list(rows) == [hh, f"{edge.point}:h"]  # critical before high
    assert (rows[hh]["state"], rows[hh]["active"], rows[hh]["acked"]) == (
        "active_unacked",
        True,
        False,
    )
    assert rows[hh]["area"] == "unit-1"
    assert rows[hh]["value"] == 25.0

    r = await target.client.post(
        f"/api/v1/alarms/{hh}/ack",
        json={"comment": "going to check"},
        headers=target.auth(operator),
    )
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert (accepted["status"], accepted["action"], accepted["agent_id"]) == (
        "pending",
        "ack",
        edge.agent,
    )
    command_id = accepted["command_id"]

    ack = await edge.send(target)  # the agent's next batch
    (command,) = ack.commands
    assert (command.id, command.kind) == (command_id, CommandKind.ALARM_ACK)
    assert command.payload == {"alarm_id": hh, "reason": "going to check"}
    state = (await target.get(f"/api/v1/commands/{command_id}", operator)).json()
    assert state["status"] == "delivered"

    events, result = edge.apply(command)
    assert [(e.kind, e.transition) for e in events] == [("limit.hh", "ack")]
    done = await edge.send(target, edge.wire(events), [result])
    assert done.commands == []

    now = await alarm_state(target, operator, hh)
    assert (now["state"], now["acked"], now["active"]) == ("active_acked", True, True)
    me = (await target.get("/api/v1/me", operator)).json()["username"]
    assert now["last_actor"] == f"central:user:{me}"
    assert [(n["action"], n["text"]) for n in now["notes"]] == [("ack", "going to check")]
    state = (await target.get(f"/api/v1/commands/{command_id}", operator)).json()
    assert (state["status"], state["result_ok"], state["result_message"]) == (
        "done",
        True,
        "ack applied",
    )
    unacked = await target.get("/api/v1/alarms", operator, plant=edge.plant, state="unacked")
    assert [a["alarm_id"] for a in unacked.json()["alarms"]] == [f"{edge.point}:h"]


async def test_a_failed_action_comes_back_as_failed(target: Target, edge: Edge) -> None:
    await edge.send(target, edge.wire(edge.rules.value(25)))
    officer = await target.new_user("plant_safety_officer", f"plant:{edge.plant}")
    hh = f"{edge.point}:hh"
    r = await target.client.post(f"/api/v1/alarms/{hh}/reset", headers=target.auth(officer))
    assert r.status_code == 202, r.text
    (command,) = (await edge.send(target)).commands
    events, result = edge.apply(command)  # not latched yet: the engine refuses
    assert events == []
    await edge.send(target, results=[result])
    state = (await target.get(f"/api/v1/commands/{command.id}", officer)).json()
    assert state["status"] == "failed"
    assert "only a latched alarm is reset" in state["result_message"]
    assert (await alarm_state(target, officer, hh))["state"] == "active_unacked"


async def test_actions_outside_scope_or_role_are_refused(target: Target, edge: Edge) -> None:
    await edge.send(target, edge.wire(edge.rules.value(25)))
    hh = f"{edge.point}:hh"
    other, _a, _t = await target.new_agent(unique("plant"), region="west")
    elsewhere = await target.new_user("operator", f"plant:{other}")
    r = await target.client.post(f"/api/v1/alarms/{hh}/ack", headers=target.auth(elsewhere))
    assert r.status_code == 404, r.text
    assert (await target.get(f"/api/v1/alarms/{hh}", elsewhere)).status_code == 404
    viewer = await target.new_user("viewer", f"plant:{edge.plant}")
    r = await target.client.post(f"/api/v1/alarms/{hh}/ack", headers=target.auth(viewer))
    assert r.status_code == 403, r.text
    operator = await target.new_user("operator", f"plant:{edge.plant}")
    r = await target.client.post(
        f"/api/v1/alarms/{hh}/shelve",
        json={"reason": "x", "minutes": 5},
        headers=target.auth(operator),
    )
    assert r.status_code == 403  # shelving is alarms:M, an operator acknowledges only
    assert r.json()["error"] == "forbidden"
    assert (await edge.send(target)).commands == []  # nothing refused was queued


async def test_shelving_needs_a_reason_and_a_bounded_duration(
    target: Target, edge: Edge, clock: SetClock
) -> None:
    await edge.send(target, edge.wire(edge.rules.value(25)))
    manager = await target.new_user("regional_manager", "region:east")
    hh = f"{edge.point}:hh"
    for body, where in (
        ({"minutes": 30}, ["body", "reason"]),
        ({"reason": "", "minutes": 30}, ["body", "reason"]),
        ({"reason": "calibration", "minutes": 0}, ["body", "minutes"]),
        ({"reason": "calibration", "minutes": 10081}, ["body", "minutes"]),
    ):
        r = await target.client.post(
            f"/api/v1/alarms/{hh}/shelve", json=body, headers=target.auth(manager)
        )
        assert r.status_code == 422, r.text
        assert r.json()["location"] == where
    r = await target.client.post(
        f"/api/v1/alarms/{hh}/shelve",
        json={"reason": "sensor replaced, bump test due", "minutes": 90},
        headers=target.auth(manager),
    )
    assert r.status_code == 202, r.text
    (command,) = (await edge.send(target)).commands
    until = datetime.fromisoformat(command.payload["until"])
    assert until.timestamp() == pytest.approx(edge.rules.t + 90 * 60)
    events, result = edge.apply(command)
    assert result.ok, result.message
    await edge.send(target, edge.wire(events), [result])
    shelved = await alarm_state(target, manager, hh)
    assert shelved["state"] == "shelved"
    assert shelved["shelved_until"] == until.astimezone(UTC).isoformat().replace("+00:00", "Z")
    listed = await target.get("/api/v1/alarms", manager, plant=edge.plant, state="shelved")
    assert [a["alarm_id"] for a in listed.json()["alarms"]] == [hh]


async def test_comments_are_kept_centrally_and_sent_down(target: Target, edge: Edge) -> None:
    await edge.send(target, edge.wire(edge.rules.value(25)))
    operator = await target.new_user("operator", f"plant:{edge.plant}")
    h = f"{edge.point}:h"
    for text in ("smell of eggs near pump 3", "gas test crew on the way"):
        r = await target.client.post(
            f"/api/v1/alarms/{h}/comment", json={"text": text}, headers=target.auth(operator)
        )
        assert r.status_code == 202, r.text
    notes = (await alarm_state(target, operator, h))["notes"]
    assert [n["text"] for n in notes] == ["gas test crew on the way", "smell of eggs near pump 3"]
    kinds = [c.kind for c in (await edge.send(target)).commands]
    assert kinds == [CommandKind.ALARM_COMMENT, CommandKind.ALARM_COMMENT]
    r = await target.client.post(
        f"/api/v1/alarms/{h}/comment", json={"text": ""}, headers=target.auth(operator)
    )
    assert r.status_code == 422


async def test_a_late_backlog_event_does_not_roll_the_state_back(
    target: Target, edge: Edge
) -> None:
    raised = edge.wire(edge.rules.value(25))
    cleared = edge.wire(edge.rules.value(0, dt=5))
    await edge.send(target, cleared)  # the newer events arrive first
    await edge.send(target, raised)  # then the backlog
    viewer = await target.new_user("viewer", f"plant:{edge.plant}")
    h = await alarm_state(target, viewer, f"{edge.point}:h")
    assert (h["state"], h["active"], h["last_transition"]) == ("rtn_unacked", False, "clear")
    assert h["raised_at"] is None  # the row took the clear; the older raise changed nothing
