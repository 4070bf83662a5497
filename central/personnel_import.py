"""Personnel from a CSV file (an HR export): parse, check, and say exactly where it is wrong.

Columns (header row required, any order; ``person_id`` and ``name`` required, the rest may be
left empty or out)::

    person_id,name,badge_id,phone,date_of_birth,health_notes,qualifications
    P-1001,Li Wei,B-77,+86 138 0000 0000,1985-03-02,,h2s_awareness=2026-03-01;confined_space=2025-12-31

``qualifications`` holds ``name=YYYY-MM-DD`` items separated by ``;``. A file is imported
whole or not at all: every problem is reported as ``<file> line N, column 'c': ...`` (up to
:data:`MAX_REPORTED`), with the line as a text editor counts it.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from pydantic import ValidationError

from central.errors import Unprocessable
from central.models import PersonIn

COLUMNS = (
    "person_id",
    "name",
    "badge_id",
    "phone",
    "date_of_birth",
    "health_notes",
    "qualifications",
)
REQUIRED = ("person_id", "name")
MAX_REPORTED = 20


class ImportProblems(Unprocessable):
    """The file's problems, each naming line and column."""

    def __init__(self, source: str, problems: list[tuple[int, str, str]]) -> None:
        shown = [
            f"{source} line {line}, column '{column}': {text}" for line, column, text in problems
        ]
        more = len(problems) - MAX_REPORTED
        detail = "; ".join(shown[:MAX_REPORTED]) + (f"; and {more} more" if more > 0 else "")
        line, column, _ = problems[0]
        super().__init__(detail, error="invalid_csv", location=["body", line, column])
        self.problems = problems


def _qualifications(text: str) -> tuple[list[dict[str, Any]], str | None]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(p.strip() for p in text.split(";")):
        if not item:
            continue
        name, sep, when = item.partition("=")
        if not sep or not name.strip():
            return out, f"item {i + 1} {item!r}: expected NAME=YYYY-MM-DD"
        try:
            expires = date.fromisoformat(when.strip())
        except ValueError:
            return out, f"item {i + 1} {item!r}: {when.strip()!r} is not a date (YYYY-MM-DD)"
        out.append({"name": name.strip(), "expires": expires})
    return out, None


def parse_personnel_csv(data: bytes, *, source: str = "personnel.csv") -> list[PersonIn]:
    """The people of the file; :class:`ImportProblems` (422) naming line and column otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"{source}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV",
            error="invalid_csv",
            location=["body"],
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ImportProblems(source, [(1, "(header)", "the file is empty: expected a header row")])
    problems: list[tuple[int, str, str]] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    for c in missing:
        problems.append((1, c, f"required column missing (columns: {', '.join(COLUMNS)})"))
    for c in unknown:
        problems.append((1, c, f"unknown column (columns: {', '.join(COLUMNS)})"))
    if problems:
        raise ImportProblems(source, problems)
    reader.fieldnames = header
    people: list[PersonIn] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append((line, "(row)", f"{len(row[None])} value(s) more than the header has"))
            continue
        cells = {k: (v or "").strip() for k, v in row.items()}
        empty = [c for c in REQUIRED if not cells.get(c)]
        if empty:
            problems.extend((line, c, "required, but the cell is empty") for c in empty)
            continue
        quals, why = _qualifications(cells.get("qualifications", ""))
        if why is not None:
            problems.append((line, "qualifications", why))
            continue
        doc: dict[str, Any] = {k: (v or None) for k, v in cells.items() if k != "qualifications"}
        doc["qualifications"] = quals
        try:
            person = PersonIn.model_validate(doc)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                column = str(err["loc"][0]) if err["loc"] else "(row)"
                shown = "" if err["type"] == "missing" else f" (got {cells.get(column, '')!r})"
                if column in {"phone", "date_of_birth", "health_notes"}:
                    shown = ""  # personal data stays out of error messages and logs
                problems.append((line, column, f"{err['msg']}{shown}"))
            continue
        if person.person_id in seen:
            problems.append(
                (line, "person_id", f"{person.person_id!r} repeats line {seen[person.person_id]}")
            )
            continue
        seen[person.person_id] = line
        people.append(person)
    if problems:
        raise ImportProblems(source, problems)
    return people


__all__ = ["COLUMNS", "ImportProblems", "parse_personnel_csv"]
