"""Malformed profiles are refused with the file, the field path and the bad value."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from device_profiles import ProfileError, load_profile

Data = dict[str, Any]


def valid_profile() -> Data:
    return {
        "schema_version": 1,
        "id": "test-dev",
        "manufacturer": "Generic Detection",
        "model": "T-1",
        "kind": "gas_detector",
        "protocol": "modbus",
        "points": [
            {
                "id": "h2s",
                "quantity": "gas.h2s",
                "unit": "ppm",
                "range": [0, 100],
                "modbus": {"table": "input", "address": 0, "type": "float32"},
                "alarms": {
                    "h": {"value": 7, "source": "[G14]"},
                    "hh": {"value": 14, "source": "[G14]"},
                    "deadband": 0.5,
                },
            },
            {
                "id": "status",
                "quantity": "status",
                "unit": "1",
                "modbus": {"table": "holding", "address": 10, "type": "uint16"},
            },
        ],
    }


def write(tmp_path: Path, data: Any, name: str = "test-dev") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_the_base_profile_is_valid(tmp_path: Path) -> None:
    # The cases below each break one thing; the base itself must load.
    assert load_profile(write(tmp_path, valid_profile())).id == "test-dev"


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


def _delete(path: tuple[Any, ...]) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return edit


# (case id, edit, field path expected in the message, bad value expected in the message)
CASES: list[tuple[str, Callable[[Data], None], str, str]] = [
    (
        "unknown quantity",
        _set(("points", 0, "quantity"), "gas.h2z"),
        "points[0].quantity",
        "'gas.h2z'",
    ),
    (
        "bad modbus type",
        _set(("points", 0, "modbus", "type"), "float33"),
        "points[0].modbus.type",
        "'float33'",
    ),
    (
        "ladder out of order",
        _set(("points", 0, "alarms", "hh", "value"), 5),
        "points[0].alarms.hh.value",
        "5",
    ),
    (
        "deadband wider than a gap",
        _set(("points", 0, "alarms", "deadband"), 8),
        "points[0].alarms.deadband",
        "8",
    ),
    (
        "limit outside the range",
        _set(("points", 0, "alarms", "hh", "value"), 140),
        "points[0].alarms.hh.value",
        "140",
    ),
    (
        "duplicate point ids",
        _set(("points", 1, "id"), "h2s"),
        "points[1].id",
        "'h2s'",
    ),
    (
        "missing protocol address",
        _delete(("points", 1, "modbus")),
        "points[1].modbus",
        "status",
    ),
    (
        "unit that does not fit the quantity",
        _set(("points", 0, "unit"), "kPa"),
        "points[0].unit",
        "'kPa'",
    ),
    (
        "bool in a register without a bit",
        _set(("points", 1, "modbus", "type"), "bool"),
        "points[1].modbus",
        "bit",
    ),
    (
        "overlapping registers",
        _set(("points", 1, "modbus"), {"table": "input", "address": 1, "type": "uint16"}),
        "points[1].modbus.address",
        "1",
    ),
    (
        "range upside down",
        _set(("points", 0, "range"), [100, 0]),
        "points[0].range",
        "[100.0, 0.0]",
    ),
    (
        "loop point without a range",
        lambda d: d["points"][1].update(loop={}, quantity="gas.h2s", unit="ppm"),
        "points[1].range",
        "needs 'range'",
    ),
    (
        "misspelt field",
        lambda d: d["points"][0]["modbus"].update(adress=3),
        "points[0].modbus.adress",
        "3",
    ),
    (
        "unknown protocol",
        _set(("protocol",), "profibus"),
        "protocol",
        "'profibus'",
    ),
]


@pytest.mark.parametrize(
    ("edit", "field", "value"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_profile_names_file_field_and_value(
    tmp_path: Path, edit: Callable[[Data], None], field: str, value: str
) -> None:
    data = copy.deepcopy(valid_profile())
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message
    lines = [ln for ln in message.splitlines() if field in ln]
    assert lines, f"no line names {field!r}:\n{message}"
    assert any(value in ln for ln in lines), f"{value!r} not shown beside {field!r}:\n{message}"


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    data = valid_profile()
    data["points"][0]["quantity"] = "gas.nope"
    data["points"][1]["modbus"]["type"] = "int33"
    with pytest.raises(ProfileError) as caught:
        load_profile(write(tmp_path, data))
    paths = {p.path for p in caught.value.problems}
    assert {"points[0].quantity", "points[1].modbus.type"} <= paths


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "id: broken\npoints:\n  - id: a\n    quantity: gas.h2s\n     unit: ppm\n", encoding="utf-8"
    )
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message
    # The stray indentation of line 5 puts "unit:" where a mapping value cannot start.
    assert "line 5, column 10" in message
    assert "<unicode string>" not in message


@pytest.mark.parametrize("top", [["a", "b"], "just text", 42])
def test_wrong_top_level_type_is_refused(tmp_path: Path, top: Any) -> None:
    path = write(tmp_path, top)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message
    assert "(top level)" in message
    assert repr(top) in message
    assert "expected a mapping" in message


def test_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, valid_profile(), name="other-name")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message
    assert "id = 'test-dev'" in message
    assert "'other-name'" in message


def test_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(path) in str(caught.value)
    assert "cannot read" in str(caught.value)


def test_a_register_bit_may_share_its_register_with_the_word(tmp_path: Path) -> None:
    # A status word and a flag bit of that same word are two views of one register, not a clash.
    data = valid_profile()
    data["points"].append(
        {
            "id": "fault",
            "quantity": "status",
            "unit": "1",
            "modbus": {"table": "holding", "address": 10, "type": "bool", "bit": 3},
        }
    )
    assert len(load_profile(write(tmp_path, data)).points) == 3
    data["points"].append(copy.deepcopy(data["points"][-1]) | {"id": "fault2"})
    with pytest.raises(ProfileError, match=r"points\[3\]\.modbus\.bit = 3"):
        load_profile(write(tmp_path, data))
