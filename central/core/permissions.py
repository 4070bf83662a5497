"""Who may do what: the permission matrix, org scope x role x data category x action.

The table below is the whole policy. Each role holds one org scope (the ``scopes`` column says
which kinds it may be given: the whole fleet, one region or one plant) and, within that scope,
the actions of each data category its row lists. Every route declares the (category, action)
pairs it needs with :func:`central.api.deps.permit`, one dependency that checks this table;
rows outside the caller's scope answer 404 as if they did not exist.

Actions:

- ``R`` read: see the data.
- ``A`` act: routine operational actions (alarms: acknowledge, reset, comment; compliance:
  record a plant's extension values such as typhoon measures).
- ``E`` export: download a file (CSV, printable report). Every export is audited, and a burst
  of exports out of office hours locks the account (:mod:`central.crud.audit`).
- ``M`` manage: change configuration or master data (alarms: shelve and unshelve; personnel:
  import and edit; compliance: limit sets and extension fields; organisation: plants, agents,
  users, API tokens, unlocking accounts).

Categories: ``personal`` is the personal fields of personnel records (phone, date of birth,
health notes): without ``personal:R`` they read as ``***``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from central.models import Role, ScopeKind


class Category(enum.StrEnum):
    ORGANISATION = "organisation"
    READINGS = "readings"
    ALARMS = "alarms"
    EXPOSURE = "exposure"
    PERSONNEL = "personnel"
    PERSONAL = "personal"
    COMPLIANCE = "compliance"
    AUDIT = "audit"


class Action(enum.StrEnum):
    READ = "read"
    ACT = "act"
    EXPORT = "export"
    MANAGE = "manage"


_LETTER = {"R": Action.READ, "A": Action.ACT, "E": Action.EXPORT, "M": Action.MANAGE}
COLUMNS: Final = tuple(Category)


@dataclass(frozen=True, slots=True)
class RoleGrants:
    """One row of the matrix: the scope kinds a role may hold and its actions per category."""

    scopes: frozenset[ScopeKind]
    actions: Mapping[Category, frozenset[Action]]

    def allows(self, category: Category, action: Action) -> bool:
        return action in self.actions[category]

    def as_dict(self) -> dict[str, list[str]]:
        """``{"alarms": ["read", "act"], ...}`` in matrix order (the ``/me`` answer)."""
        return {c.value: [a.value for a in Action if a in self.actions[c]] for c in COLUMNS}


def _row(scopes: str, *cells: str) -> RoleGrants:
    if len(cells) != len(COLUMNS):
        raise ValueError(f"a matrix row needs {len(COLUMNS)} cells, got {len(cells)}")
    actions = {}
    for category, cell in zip(COLUMNS, cells, strict=True):
        letters = "" if cell == "-" else cell
        unknown = set(letters) - set(_LETTER)
        if unknown:
            raise ValueError(f"{category}: unknown action letter(s) {sorted(unknown)}")
        actions[category] = frozenset(_LETTER[ch] for ch in letters)
    return RoleGrants(
        scopes=frozenset(ScopeKind(s) for s in scopes.split(",")),
        actions=MappingProxyType(actions),
    )


# fmt: off
MATRIX: Final[Mapping[Role, RoleGrants]] = MappingProxyType({
    #                                scopes               organisation readings alarms exposure personnel personal compliance audit
    Role.ADMIN:                _row("fleet",              "RM",        "R",     "R",   "R",     "RM",     "-",     "RAEM",    "RE"),
    Role.HQ_DIRECTOR:          _row("fleet",              "R",         "R",     "R",   "R",     "R",      "-",     "RE",      "-"),
    Role.REGIONAL_MANAGER:     _row("region",             "R",         "R",     "RAM", "R",     "R",      "-",     "RE",      "-"),
    Role.PLANT_SAFETY_OFFICER: _row("plant",              "R",         "R",     "RAM", "R",     "REM",    "R",     "RAE",     "-"),
    Role.OPERATOR:             _row("plant",              "R",         "R",     "RA",  "R",     "-",      "-",     "-",       "-"),
    Role.AUDITOR:              _row("fleet",              "R",         "-",     "-",   "-",     "-",      "-",     "RE",      "RE"),
    Role.VIEWER:               _row("fleet,region,plant", "R",         "R",     "R",   "R",     "-",      "-",     "-",       "-"),
})
# fmt: on


def grants(role: Role | str) -> RoleGrants:
    return MATRIX[Role(role)]


def allows(role: Role | str, category: Category, action: Action) -> bool:
    return grants(role).allows(category, action)


def holders(category: Category, action: Action) -> frozenset[Role]:
    """The roles that may do ``action`` on ``category`` (for error messages)."""
    return frozenset(r for r, g in MATRIX.items() if g.allows(category, action))


def scope_allowed(role: Role | str, kind: ScopeKind | str) -> bool:
    return ScopeKind(kind) in grants(role).scopes


def render_matrix() -> str:
    """The matrix as a Markdown table (the README and docs show exactly this)."""
    head = ["role", "scopes", *(c.value for c in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for role, g in MATRIX.items():
        scopes = ", ".join(s.value for s in ScopeKind if s in g.scopes)
        cells = [
            "".join(ch for ch, a in _LETTER.items() if a in g.actions[c]) or "-" for c in COLUMNS
        ]
        lines.append("| " + " | ".join([role.value, scopes, *cells]) + " |")
    return "\n".join(lines)


__all__ = [
    "MATRIX",
    "Action",
    "Category",
    "RoleGrants",
    "allows",
    "grants",
    "holders",
    "render_matrix",
    "scope_allowed",
]
