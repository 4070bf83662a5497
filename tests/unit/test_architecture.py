"""The import rules of ARCHITECTURE.md §3, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["protocols", "device_profiles", "simulators", "edge_agent", "central"]
ALLOWED = {
    "protocols": set(),
    "device_profiles": {"protocols"},
    "simulators": {"protocols", "device_profiles"},
    "edge_agent": {"protocols", "device_profiles"},
    "central": {"protocols", "device_profiles"},
}
# An edge gateway installs without these (the `edge` extra).
CENTRAL_ONLY_LIBS = {"fastapi", "sqlmodel", "sqlalchemy", "uvicorn", "argon2", "psycopg"}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_it_may(package: str) -> None:
    forbidden = set(PACKAGES) - ALLOWED[package] - {package}
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        hits = imported_top_levels(path) & forbidden
        if hits:
            bad.append(f"{path.relative_to(REPO)} imports {sorted(hits)}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["protocols", "device_profiles", "edge_agent"])
def test_edge_side_needs_no_central_libraries(package: str) -> None:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        hits = imported_top_levels(path) & CENTRAL_ONLY_LIBS
        if hits:
            bad.append(f"{path.relative_to(REPO)} imports {sorted(hits)}")
    assert not bad, "\n".join(bad)
