"""Personnel: the JSON API and CSV import for HR systems, errors that name line and column,
and each plant's qualification list flowing down to its agents in the sync response (only
person id, qualification and expiry; re-sent exactly when it changes). In process, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from protocols.sync import AgentHealth, BatchAck, CommandKind
from tests.support.central import (
    Seqs,
    Target,
    asgi_target,
    batch,
    command_result,
    create_admin,
    unique,
)

GOOD_CSV = (
    "person_id,name,badge_id,phone,date_of_birth,health_notes,qualifications\n"
    "P-1,Li Wei,B-1,+86 138,1985-03-02,asthma,h2s_awareness=2026-03-01;confined_space=2025-12-31\n"
    'P-2,"Wang, Fang",B-2,,,,gas_test=2027-01-15\n'
    "P-3,Zhao Lei,,,,,\n"
)


@pytest.fixture
async def target(database_url: str) -> AsyncIterator[Target]:
    admin = create_admin(database_url)[0]
    async with asgi_target(database_url, admin) as t:
        yield t


async def heartbeat(
    t: Target, plant: str, agent: str, token: str, n: int, **records: list[object]
) -> BatchAck:
    b = batch(agent, plant, batch_id=f"hb-{n}", health=AgentHealth(ts=datetime.now(UTC)), **records)  # type: ignore[arg-type]
    r = await t.ingest(b, token)
    assert r.status_code == 200, r.text
    return BatchAck.model_validate_json(r.content)


async def import_csv(t: Target, token: str, plant: str, text: str, **params: object):  # type: ignore[no-untyped-def]
    return await t.client.post(
        f"/api/v1/personnel/{plant}/import",
        content=text.encode(),
        params=params,
        headers={**t.auth(token), "Content-Type": "text/csv"},
    )


async def test_csv_import_and_the_lists_the_agents_get(target: Target) -> None:
    plant, agent, token = await target.new_agent(unique("plant"))
    officer = await target.new_user("plant_safety_officer", f"plant:{plant}")
    r = await import_csv(target, officer, plant, GOOD_CSV)
    assert r.status_code == 200, r.text
    change = r.json()
    assert (change["created"], change["updated"], change["removed"], change["qualifications"]) == (
        3,
        0,
        0,
        3,
    )
    (sync_id,) = change["sync_commands"]

    ack = await heartbeat(target, plant, agent, token, 1)
    (command,) = ack.commands
    assert (command.id, command.kind) == (sync_id, CommandKind.PERSONNEL_SYNC)
    # Only ids, qualifications and dates reach the edge: no names, phones or health data.
    assert command.payload == {"records": [
        {"person_id": "P-1", "qualification": "confined_space", "expires": "2025-12-31"},
        {"person_id": "P-1", "qualification": "h2s_awareness", "expires": "2026-03-01"},
        {"person_id": "P-2", "qualification": "gas_test", "expires": "2027-01-15"},
    ]}  # fmt: skip
    assert "Li Wei" not in command.model_dump_json()
    assert "asthma" not in command.model_dump_json()
    await heartbeat(
        target, plant, agent, token, 2, command_results=[command_result(Seqs(), sync_id)]
    )

    # The same file again changes nothing and sends nothing.
    again = (await import_csv(target, officer, plant, GOOD_CSV)).json()
    assert (again["unchanged"], again["sync_commands"]) == (3, [])
    assert (await heartbeat(target, plant, agent, token, 3)).commands == []

    # A changed expiry is sent again; a change of phone alone is not the edge's business.
    changed = GOOD_CSV.replace("gas_test=2027-01-15", "gas_test=2028-01-15").replace(
        "+86 138", "+86 139"
    )
    change = (await import_csv(target, officer, plant, changed)).json()
    assert change["updated"] == 2
    (resent,) = change["sync_commands"]
    (command,) = (await heartbeat(target, plant, agent, token, 4)).commands
    assert command.id == resent
    assert {
        "person_id": "P-2",
        "qualification": "gas_test",
        "expires": "2028-01-15",
    } in command.payload["records"]
    phone_only = changed.replace("+86 139", "+86 140")
    assert (await import_csv(target, officer, plant, phone_only)).json()["sync_commands"] == []

    # A new agent of the plant gets the list it does not have.
    admin = await target.admin_token()
    r = await target.client.post(
        "/api/v1/agents", json={"plant": plant, "region": "r1"}, headers=target.auth(admin)
    )
    second, second_token = r.json()["agent_id"], r.json()["token"]
    (first,) = (await heartbeat(target, plant, second, second_token, 1)).commands
    assert first.kind == CommandKind.PERSONNEL_SYNC
    assert len(first.payload["records"]) == 3

    # Replace: P-3 and P-2 leave, the list shrinks and goes down again.
    only_p1 = "person_id,name,qualifications\nP-1,Li Wei,h2s_awareness=2026-03-01\n"
    change = (await import_csv(target, officer, plant, only_p1, replace="true")).json()
    assert (change["removed"], len(change["sync_commands"])) == (2, 2)  # both agents
    listed = (await target.get("/api/v1/personnel", officer, plant=plant)).json()["people"]
    assert [p["person_id"] for p in listed] == ["P-1"]
    assert listed[0]["phone"] is None  # the replacing file had no phone column


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("person_id,name\nP-1,Li\nP-2\n", 3, "name", "required, but the cell is empty"),
        (
            "person_id,name,date_of_birth\nP-1,Li,1985-13-02\n",
            2,
            "date_of_birth",
            "month value is outside",
        ),
        (
            "person_id,name,qualifications\nP-1,Li,h2s:2026-01-01\n",
            2,
            "qualifications",
            "expected NAME=YYYY-MM-DD",
        ),
        (
            "person_id,name,qualifications\nP-1,Li,h2s=2026-02-30\n",
            2,
            "qualifications",
            "'2026-02-30' is not a date",
        ),
        ("person_id,name\nP-1,Li\nP-1,Lee\n", 3, "person_id", "'P-1' repeats line 2"),
        ("person_id,nam\nP-1,Li\n", 1, "name", "required column missing"),
        ("person_id,name,blood_type\nP-1,Li,O\n", 1, "blood_type", "unknown column"),
        ("person_id,name\nP 1,Li\n", 2, "person_id", "String should match pattern"),
        (
            'person_id,name\nP-1,"Li\nWei"\nP-2,Wang,extra\n',
            4,
            "(row)",
            "1 value(s) more than the header has",
        ),
    ],
)
async def test_a_bad_file_names_line_and_column_and_stores_nothing(
    target: Target, text: str, line: int, column: str, words: str
) -> None:
    plant, _agent, _token = await target.new_agent(unique("plant"))
    officer = await target.new_user("plant_safety_officer", f"plant:{plant}")
    r = await import_csv(target, officer, plant, text)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_csv"
    assert body["location"] == ["body", line, column]
    assert f"personnel CSV line {line}, column '{column}': " in body["detail"]
    assert words in body["detail"]
    assert (await target.get("/api/v1/personnel", officer, plant=plant)).json()["people"] == []


async def test_the_json_api_for_hr_systems(target: Target) -> None:
    plant, _agent, _token = await target.new_agent(unique("plant"))
    admin = await target.admin_token()
    r = await target.client.post(
        "/api/v1/tokens",
        json={
            "name": unique("hr"),
            "role": "plant_safety_officer",
            "scope_kind": "plant",
            "scope_key": plant,
        },
        headers=target.auth(admin),
    )
    hr = r.json()["token"]
    body = {"records": [
        {"person_id": "E-1", "name": "Chen Jie", "date_of_birth": "1990-05-06",
         "qualifications": [{"name": "h2s", "expires": "2026-01-01"}]},
        {"person_id": "E-2", "name": "Sun Li", "qualifications": []},
    ]}  # fmt: skip
    r = await target.client.post(f"/api/v1/personnel/{plant}", json=body, headers=target.auth(hr))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    dup = {"records": [body["records"][0], body["records"][0]]}
    r = await target.client.post(f"/api/v1/personnel/{plant}", json=dup, headers=target.auth(hr))
    assert r.status_code == 422
    assert r.json()["location"] == ["body", "records", 1, "person_id"]
    bad = {
        "records": [
            {
                "person_id": "E-3",
                "name": "X",
                "qualifications": [{"name": "h2s", "expires": "soon"}],
            }
        ]
    }
    r = await target.client.post(f"/api/v1/personnel/{plant}", json=bad, headers=target.auth(hr))
    assert r.status_code == 422
    assert r.json()["location"] == ["body", "records", 0, "qualifications", 0, "expires"]
    one = (await target.get(f"/api/v1/personnel/{plant}/E-1", hr)).json()
    assert (one["date_of_birth"], one["personal_masked"]) == ("1990-05-06", False)
    assert one["qualifications"] == [{"name": "h2s", "expires": "2026-01-01", "expired": True}]
    r = await target.client.delete(f"/api/v1/personnel/{plant}/E-2", headers=target.auth(hr))
    assert r.status_code == 204
    assert (await target.get(f"/api/v1/personnel/{plant}/E-2", hr)).status_code == 404
    by_qual = (await target.get("/api/v1/personnel", hr, plant=plant, qualification="h2s")).json()
    assert [p["person_id"] for p in by_qual["people"]] == ["E-1"]


async def test_a_viewer_of_agent_commands_does_not_see_the_personnel_list(target: Target) -> None:
    plant, agent, _token = await target.new_agent(unique("plant"))
    officer = await target.new_user("plant_safety_officer", f"plant:{plant}")
    await import_csv(target, officer, plant, GOOD_CSV)
    viewer = await target.new_user("viewer", f"plant:{plant}")
    (cmd,) = (await target.get(f"/api/v1/agents/{agent}/commands", viewer)).json()
    assert cmd["payload"] == {"records": 3, "redacted": True}
    (cmd,) = (await target.get(f"/api/v1/agents/{agent}/commands", officer)).json()
    assert len(cmd["payload"]["records"]) == 3
    assert (await target.get(f"/api/v1/commands/{cmd['id']}", viewer)).status_code == 403
