"""Reading a driver's keyword options: typed, each named in its error, unknown ones refused.

Options reach a driver from YAML (``DeviceEntry.options``) as strings, numbers and booleans. A
driver reads each one through an :class:`OptionReader`, then calls ``finish()``, which refuses
any option it did not read (naming the closest known one), so a typo like ``pasword`` is an
error at load, never a silently anonymous connection. Secrets are wrapped in :class:`Secret`,
whose ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class Secret:
    """A password or key passphrase: compares by value, never printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one call that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class OptionReader:
    """Typed access to ``options``; ``where`` prefixes every error (e.g. ``"opc.tcp://h:4840"``)."""

    def __init__(self, where: str, options: Mapping[str, Any]) -> None:
        self.where = where
        self._options = dict(options)
        self._known: list[str] = []

    def _take(self, name: str) -> Any:
        self._known.append(name)
        return self._options.pop(name, None)

    def _fail(self, name: str, value: Any, expectation: str) -> ConfigError:
        shown = "***" if "password" in name else repr(value)
        return ConfigError(f"{self.where}: option {name}={shown} {expectation}")

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self._take(name)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise self._fail(name, value, "must be a non-empty string")
        return value

    def secret(self, name: str) -> Secret | None:
        value = self._take(name)
        if value is None:
            return None
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise self._fail(name, value, "must be a string")
        return Secret(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._take(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self._fail(name, value, "must be true or false")

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float:
        value = self._take(name)
        if value is None:
            return default
        try:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(name, value, "must be a number") from None
        if not math.isfinite(number):
            raise self._fail(name, value, "must be a finite number")
        if positive and number <= 0:
            raise self._fail(name, value, "must be greater than 0")
        if minimum is not None and number < minimum:
            raise self._fail(name, value, f"must be at least {minimum:g}")
        if maximum is not None and number > maximum:
            raise self._fail(name, value, f"must be at most {maximum:g}")
        return number

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._take(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self._fail(name, value, "must be a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self._fail(name, value, "must be a whole number") from None
        if isinstance(value, float) and value != number:
            raise self._fail(name, value, "must be a whole number")
        if minimum is not None and number < minimum:
            raise self._fail(name, value, f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise self._fail(name, value, f"must be at most {maximum}")
        return number

    def choice(self, name: str, default: T, choices: Mapping[str, T]) -> T:
        """One of ``choices`` (keys compared case-insensitively)."""
        value = self._take(name)
        if value is None:
            return default
        if isinstance(value, str):
            for key, result in choices.items():
                if key.lower() == value.strip().lower():
                    return result
        raise self._fail(name, value, f"must be one of {', '.join(choices)}")

    def file(self, name: str) -> Path | None:
        """A path to a readable regular file."""
        value = self._take(name)
        if value is None:
            return None
        if not isinstance(value, str | os.PathLike) or not str(value):
            raise self._fail(name, value, "must be a file path")
        path = Path(value).expanduser()
        if not path.is_file():
            raise self._fail(name, str(path), "is not an existing file")
        if not os.access(path, os.R_OK):
            raise self._fail(name, str(path), "is not readable by this process")
        return path

    def finish(self) -> None:
        """Refuse every option that no reader asked for."""
        if not self._options:
            return
        name = sorted(self._options)[0]
        close = difflib.get_close_matches(name, self._known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{self.where}: unknown option {name!r}{hint}; known options: "
            f"{', '.join(sorted(self._known))}"
        )
