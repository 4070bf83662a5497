"""Load profiles, limit sets and scenarios from YAML, with errors that say where.

A bad file raises :class:`ProfileError` naming the file, the field path inside it and the bad
value, e.g. ``gd-h2s.yaml: points[0].modbus.type = 'float33': unknown Modbus data type``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .limits import LimitSet
from .schema import DeviceProfile
from .signals import Scenario

PACKAGE_DIR = Path(__file__).resolve().parent
PROFILES_DIR = PACKAGE_DIR / "profiles"
LIMIT_SETS_DIR = PACKAGE_DIR / "limit_sets"
SCENARIOS_DIR = PACKAGE_DIR / "scenarios"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FieldProblem:
    path: str
    value: Any
    message: str

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        where = self.path or "(top level)"
        return (
            f"{where} = {shown}: {self.message}"
            if self.value is not _MISSING
            else f"{where}: {self.message}"
        )


_MISSING: Any = object()


class ProfileError(ValueError):
    """A data file does not validate. ``problems`` lists every bad field."""

    def __init__(self, file: Path | str, problems: list[FieldProblem]) -> None:
        self.file = str(file)
        self.problems = problems
        lines = "\n".join(f"  {self.file}: {p}" for p in problems)
        super().__init__(f"{self.file}: {len(problems)} problem(s)\n{lines}")


def format_location(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _value_at(data: Any, loc: Iterable[int | str]) -> Any:
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node)
        ):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _data_path(data: Any, loc: tuple[int | str, ...], missing: bool) -> list[int | str]:
    """The part of pydantic's ``loc`` that names keys in ``data`` (union tags are dropped)."""
    path: list[int | str] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        child = _value_at(node, (part,))
        if child is not _MISSING:
            node = child
            path.append(part)
        elif last and missing:
            path.append(part)
    return path


def problems_from(exc: ValidationError, data: Any) -> list[FieldProblem]:
    """Turn pydantic's errors into (path, value, message)."""
    out = []
    for err in exc.errors(include_url=False):
        missing = err["type"] == "missing"
        loc = _data_path(data, tuple(err["loc"]), missing)
        value = _MISSING if missing else _value_at(data, loc)
        message = err["msg"].removeprefix("Value error, ")
        if missing:
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(FieldProblem(format_location(loc), value, message))
    return out


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(
            path, [FieldProblem("", _MISSING, f"cannot read file: {exc.strerror}")]
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ProfileError(
            path, [FieldProblem("", _MISSING, f"YAML syntax error at {where}: {exc}")]
        ) from exc


def validate_file(model: type[M], path: Path, data: Any | None = None) -> M:
    data = read_yaml(path) if data is None else data
    if not isinstance(data, dict):
        raise ProfileError(path, [FieldProblem("", data, "expected a mapping at the top level")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(path, problems_from(exc, data)) from exc


def load_profile(path: Path | str) -> DeviceProfile:
    path = Path(path)
    profile = validate_file(DeviceProfile, path)
    if profile.id != path.stem:
        raise ProfileError(
            path, [FieldProblem("id", profile.id, f"must match the file name {path.stem!r}")]
        )
    return profile


def load_limit_set(path: Path | str) -> LimitSet:
    return validate_file(LimitSet, Path(path))


def load_scenario(path: Path | str) -> Scenario:
    return validate_file(Scenario, Path(path))


class Catalog:
    """Profiles, limit sets and scenarios by id, from the built-in folders plus extra ones.

    Extra folders (a plant's own profiles) are searched first, so a plant can replace a built-in.
    """

    def __init__(self, extra_dirs: Iterable[Path | str] = ()) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self._profiles: dict[str, DeviceProfile] = {}
        self._limit_sets: dict[str, LimitSet] = {}
        self._scenarios: dict[str, Scenario] = {}

    def _files(self, builtin: Path, sub: str) -> Iterator[Path]:
        for d in [*self.extra_dirs, builtin]:
            folder = d / sub if d is not builtin and (d / sub).is_dir() else d
            if folder.is_dir():
                yield from sorted(folder.glob("*.yaml"))

    def _find(self, kind: str, ident: str, builtin: Path, sub: str) -> Path:
        for path in self._files(builtin, sub):
            if path.stem == ident:
                return path
        known = sorted({p.stem for p in self._files(builtin, sub)})
        raise KeyError(f"unknown {kind} {ident!r}; known: {', '.join(known)}")

    def profile(self, profile_id: str) -> DeviceProfile:
        if profile_id not in self._profiles:
            self._profiles[profile_id] = load_profile(
                self._find("profile", profile_id, PROFILES_DIR, "profiles")
            )
        return self._profiles[profile_id]

    def limit_set(self, set_id: str) -> LimitSet:
        if set_id not in self._limit_sets:
            self._limit_sets[set_id] = load_limit_set(
                self._find("limit set", set_id, LIMIT_SETS_DIR, "limit_sets")
            )
        return self._limit_sets[set_id]

    def scenario(self, scenario_id: str) -> Scenario:
        if scenario_id not in self._scenarios:
            self._scenarios[scenario_id] = load_scenario(
                self._find("scenario", scenario_id, SCENARIOS_DIR, "scenarios")
            )
        return self._scenarios[scenario_id]

    def profile_ids(self) -> list[str]:
        return sorted({p.stem for p in self._files(PROFILES_DIR, "profiles")})

    def limit_set_ids(self) -> list[str]:
        return sorted({p.stem for p in self._files(LIMIT_SETS_DIR, "limit_sets")})

    def scenario_ids(self) -> list[str]:
        return sorted({p.stem for p in self._files(SCENARIOS_DIR, "scenarios")})
