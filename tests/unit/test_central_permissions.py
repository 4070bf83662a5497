"""The permission matrix against an expectation table written here independently: a wrong cell
in ``central.core.permissions.MATRIX`` fails, and so does a role or category added to one and
not the other. Plus the scope rules and the matrix shown in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.core.permissions import (
    MATRIX,
    Action,
    Category,
    allows,
    grants,
    holders,
    render_matrix,
    scope_allowed,
)
from central.models import Role, ScopeKind

REPO = Path(__file__).resolve().parents[2]

# What each role may do, written from the words, not copied from the code:
#   hq_director: everything in the fleet, read; regional_manager: own region, read + alarm
#   actions; plant_safety_officer: own plant incl. acks/shelve, personnel of own plant;
#   operator: own plant readings and alarms, acks; auditor: compliance and audit, read-only
#   (export is how an auditor takes evidence away); admin: runs the system, not the plant.
# Letters: r read, a act, e export, m manage.
EXPECTED: dict[str, dict[str, str]] = {
    "admin": {"organisation": "rm", "readings": "r", "alarms": "r", "exposure": "r",
              "personnel": "rm", "personal": "", "compliance": "raem", "audit": "re"},
    "hq_director": {"organisation": "r", "readings": "r", "alarms": "r", "exposure": "r",
                    "personnel": "r", "personal": "", "compliance": "re", "audit": ""},
    "regional_manager": {"organisation": "r", "readings": "r", "alarms": "ram", "exposure": "r",
                         "personnel": "r", "personal": "", "compliance": "re", "audit": ""},
    "plant_safety_officer": {"organisation": "r", "readings": "r", "alarms": "ram",
                             "exposure": "r", "personnel": "rem", "personal": "r",
                             "compliance": "rae", "audit": ""},
    "operator": {"organisation": "r", "readings": "r", "alarms": "ra", "exposure": "r",
                 "personnel": "", "personal": "", "compliance": "", "audit": ""},
    "auditor": {"organisation": "r", "readings": "", "alarms": "", "exposure": "",
                "personnel": "", "personal": "", "compliance": "re", "audit": "re"},
    "viewer": {"organisation": "r", "readings": "r", "alarms": "r", "exposure": "r",
               "personnel": "", "personal": "", "compliance": "", "audit": ""},
}  # fmt: skip
EXPECTED_SCOPES = {
    "admin": {"fleet"},
    "hq_director": {"fleet"},
    "regional_manager": {"region"},
    "plant_safety_officer": {"plant"},
    "operator": {"plant"},
    "auditor": {"fleet"},
    "viewer": {"fleet", "region", "plant"},
}
LETTER = {Action.READ: "r", Action.ACT: "a", Action.EXPORT: "e", Action.MANAGE: "m"}
CELLS = [(r, c, a) for r in EXPECTED for c in Category for a in Action]


def test_the_matrix_has_exactly_the_expected_roles_and_categories() -> None:
    assert {r.value for r in MATRIX} == set(EXPECTED) == {r.value for r in Role}
    for role, row in EXPECTED.items():
        assert set(row) == {c.value for c in Category}, role


@pytest.mark.parametrize(("role", "category", "action"), CELLS)
def test_each_cell_matches_the_expectation(role: str, category: Category, action: Action) -> None:
    expected = LETTER[action] in EXPECTED[role][category.value]
    assert allows(role, category, action) is expected


@pytest.mark.parametrize("role", list(EXPECTED))
def test_scopes_per_role(role: str) -> None:
    assert {s.value for s in grants(role).scopes} == EXPECTED_SCOPES[role]
    for kind in ScopeKind:
        assert scope_allowed(role, kind) is (kind.value in EXPECTED_SCOPES[role])


def test_read_only_roles_change_nothing() -> None:
    for role in (Role.HQ_DIRECTOR, Role.AUDITOR, Role.VIEWER):
        for category in Category:
            assert not allows(role, category, Action.ACT), (role, category)
            assert not allows(role, category, Action.MANAGE), (role, category)


def test_holders_and_the_me_row() -> None:
    assert holders(Category.ORGANISATION, Action.MANAGE) == {Role.ADMIN}
    assert holders(Category.PERSONAL, Action.READ) == {Role.PLANT_SAFETY_OFFICER}
    assert holders(Category.AUDIT, Action.READ) == {Role.ADMIN, Role.AUDITOR}
    row = grants(Role.OPERATOR).as_dict()
    assert list(row) == [c.value for c in Category]
    assert row["alarms"] == ["read", "act"]
    assert row["personnel"] == []


def test_the_docs_show_the_matrix_in_force() -> None:
    table = render_matrix()
    for doc in (REPO / "central" / "README.md", REPO / "docs" / "central-records.md"):
        assert table in doc.read_text(encoding="utf-8"), f"{doc} shows another matrix"
