"""Load profiles, limit sets and scenarios from YAML, with errors that say where.

A bad file raises :class:`ProfileError` naming the file, the field path inside it and the bad
value, e.g. ``gd-h2s.yaml: points[0].modbus.type = 'float33': unknown Modbus data type``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .field_errors import MISSING, FieldValueError
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


_MISSING: Any = MISSING


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
        if isinstance(node, dict):
            if part not in node:
                return _MISSING
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
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


def problems_from(
    exc: ValidationError, data: Any, prefix: tuple[int | str, ...] = ()
) -> list[FieldProblem]:
    """Turn pydantic's errors into (path, value, message).

    ``prefix`` is where ``data`` sits in the file, when only part of a file was validated.
    """
    out = []
    for err in exc.errors(include_url=False):
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldValueError):
            base = _data_path(data, tuple(err["loc"]), False)
            for rel in cause.problems:
                loc = [*prefix, *base, *rel.path]
                out.append(FieldProblem(format_location(loc), rel.value, rel.message))
            continue
        missing = err["type"] == "missing"
        loc = _data_path(data, tuple(err["loc"]), missing)
        value = _MISSING if missing else _value_at(data, loc)
        message = err["msg"].removeprefix("Value error, ")
        if missing:
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(FieldProblem(format_location([*prefix, *loc]), value, message))
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
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown place"
        # PyYAML's own text names "<unicode string>"; the problem and its context say enough.
        what = " ".join(
            str(part)
            for part in (getattr(exc, "context", None), getattr(exc, "problem", None))
            if part
        )
        raise ProfileError(
            path, [FieldProblem("", _MISSING, f"YAML syntax error at {where}: {what or exc}")]
        ) from exc


def validate_file(model: type[M], path: Path, data: Any | None = None) -> M:
    data = read_yaml(path) if data is None else data
    if not isinstance(data, dict):
        raise ProfileError(path, [FieldProblem("", data, "expected a mapping at the top level")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(path, problems_from(exc, data)) from exc


def _id_matches_file(path: Path, ident: str) -> None:
    # The catalogue finds files by name; an id that differs would be found under another name.
    if ident != path.stem:
        raise ProfileError(
            path, [FieldProblem("id", ident, f"must match the file name {path.stem!r}")]
        )


def load_profile(path: Path | str) -> DeviceProfile:
    path = Path(path)
    profile = validate_file(DeviceProfile, path)
    _id_matches_file(path, profile.id)
    return profile


def load_limit_set(path: Path | str) -> LimitSet:
    path = Path(path)
    limit_set = validate_file(LimitSet, path)
    _id_matches_file(path, limit_set.id)
    return limit_set


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    scenario = validate_file(Scenario, path)
    _id_matches_file(path, scenario.id)
    return scenario


DataFile = DeviceProfile | LimitSet | Scenario

_LOADERS: dict[str, Callable[[Path], DataFile]] = {
    "profile": load_profile,
    "limit_set": load_limit_set,
    "scenario": load_scenario,
}
_FOLDER_KINDS = {"profiles": "profile", "limit_sets": "limit_set", "scenarios": "scenario"}


def detect_kind(path: Path | str, data: Any = None) -> str | None:
    """'profile', 'limit_set' or 'scenario' for a data file, by its folder or else its keys."""
    path = Path(path)
    if path.parent.name in _FOLDER_KINDS:
        return _FOLDER_KINDS[path.parent.name]
    if isinstance(data, dict):
        if "points" in data:
            return "profile"
        if "molar_volume_l" in data or "substances" in data:
            return "limit_set"
        if "steps" in data:
            return "scenario"
    return None


def load_any(path: Path | str) -> DataFile:
    """Load a profile, limit set or scenario, whichever the file is; ``ProfileError`` if neither."""
    path = Path(path)
    kind = detect_kind(path, read_yaml(path))
    if kind is None:
        raise ProfileError(
            path,
            [
                FieldProblem(
                    "",
                    _MISSING,
                    "not a profile ('points'), limit set ('molar_volume_l') or scenario ('steps')",
                )
            ],
        )
    return _LOADERS[kind](path)


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
