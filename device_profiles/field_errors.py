"""A validation error that knows which field inside the validated object is wrong.

Pydantic locates a field validator's error at the field, but a model validator's error (one that
compares fields: a limit ladder, duplicate point ids) only at the model. Model validators raise
:class:`FieldValueError` instead of ``ValueError``; the loader reads its ``problems`` and reports
each at ``<model path>.<relative path>`` with the bad value, so a user sees
``points[3].id = 'h2s': duplicate point id`` rather than a whole profile echoed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Location = tuple[int | str, ...]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""The value of a field that is absent; the loader then prints the path without a value."""


@dataclass(frozen=True)
class RelativeProblem:
    """One bad field: its path relative to the model that raised, its value, what is wrong."""

    path: Location
    value: Any
    message: str


class FieldValueError(ValueError):
    """One or more fields of a model are wrong; pydantic wraps it like any ``ValueError``."""

    def __init__(self, problems: list[RelativeProblem]) -> None:
        if not problems:
            raise ValueError("FieldValueError needs at least one problem")
        self.problems = problems
        super().__init__("; ".join(_describe(p) for p in problems))

    @classmethod
    def at(cls, path: Location, value: Any, message: str) -> FieldValueError:
        return cls([RelativeProblem(path, value, message)])


def _describe(problem: RelativeProblem) -> str:
    where = ".".join(str(p) for p in problem.path)
    if problem.value is MISSING:
        return f"{where}: {problem.message}" if where else problem.message
    return f"{where} = {problem.value!r}: {problem.message}" if where else problem.message
