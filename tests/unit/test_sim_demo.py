"""How ``hse-sim demo`` rewrites the demo plant for the machine it runs on."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from device_profiles.loader import read_yaml
from simulators.cli import build_parser
from simulators.demo import DEFAULT_PLANT, rewrite_plant, write_secret


def rewritten(tmp_path: Path, *, any_port: bool) -> tuple[dict[str, object], dict[str, object]]:
    source = read_yaml(DEFAULT_PLANT)
    assert isinstance(source, dict)
    plant = rewrite_plant(
        source,
        data_dir=tmp_path,
        central_url="http://127.0.0.1:18000",
        broker_url="mqtt://127.0.0.1:11883",
        status_port=18710,
        any_port=any_port,
    )
    return source, plant


def test_every_endpoint_moves_together_and_the_agent_points_at_this_machine(
    tmp_path: Path,
) -> None:
    source, plant = rewritten(tmp_path, any_port=True)
    entries = [*plant["devices"], *plant["plcs"]]  # type: ignore[misc]
    before = [*source["devices"], *source["plcs"]]  # type: ignore[misc]
    moved: dict[str, str] = {}
    for old, new in zip(before, entries, strict=True):
        assert {k: v for k, v in old.items() if k != "url"} == {
            k: v for k, v in new.items() if k != "url"
        }
        if old["url"].startswith("mqtt"):
            assert new["url"] == "mqtt://127.0.0.1:11883"
            continue
        assert moved.setdefault(old["url"], new["url"]) == new["url"], "a shared endpoint split"
        assert urlsplit(new["url"]).hostname == "127.0.0.1"
    assert len(set(moved.values())) == len(moved)  # distinct endpoints stay distinct
    assert plant["central"] == {
        "url": "http://127.0.0.1:18000",
        "token_file": str(tmp_path / "agent.token"),
        "heartbeat_s": 2.0,
    }
    assert plant["outbox"] == {"path": str(tmp_path / "agent" / "outbox.db")}
    assert plant["status"] == {"host": "127.0.0.1", "port": 18710}
    for key in set(source) - {"devices", "plcs", "central", "outbox", "status"}:
        assert plant[key] == source[key], key


def test_a_fixed_port_is_kept_when_free_and_replaced_when_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 15020))  # the demo plant's Modbus gateway
        taken.listen()
        _, plant = rewritten(tmp_path, any_port=False)
    ports = {urlsplit(d["url"]).port for d in plant["devices"]}  # type: ignore[attr-defined]
    assert 15020 not in ports
    if_free = {14840, 15021}  # other tests may hold these; when free they are kept
    for port in if_free:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _, again = rewritten(tmp_path, any_port=False)
        assert port in {urlsplit(d["url"]).port for d in again["devices"]}  # type: ignore[attr-defined]


def test_secrets_are_written_for_the_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "agent.token"
    write_secret(path, "s3cret")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == "s3cret\n"
    with pytest.raises(FileExistsError):
        write_secret(path, "other")


def test_demo_is_a_subcommand_of_hse_sim() -> None:
    args = build_parser().parse_args(["demo", "--free-ports"])
    assert args.command == "demo"
    assert args.free_ports
    assert args.data_dir == "./hse-demo-data"
