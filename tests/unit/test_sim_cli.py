"""``hse-sim``: listing, checking, planning and running (with fake servers), in and out of process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from device_profiles import Catalog
from device_profiles.loader import LIMIT_SETS_DIR, PROFILES_DIR, SCENARIOS_DIR
from simulators.cli import main
from tests.support.procs import Child, python_env, wait_for
from tests.unit.test_sim_cli_plant import FakeFactory

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "config" / "plants" / "construction-site.yaml"
DATA_FILES = sorted(
    [*PROFILES_DIR.glob("*.yaml"), *LIMIT_SETS_DIR.glob("*.yaml"), *SCENARIOS_DIR.glob("*.yaml")]
)


@pytest.mark.parametrize(
    ("command", "ids"),
    [
        ("profiles", Catalog().profile_ids()),
        ("limit-sets", Catalog().limit_set_ids()),
        ("scenarios", Catalog().scenario_ids()),
    ],
)
def test_listing_commands_show_the_whole_catalogue(
    capsys: pytest.CaptureFixture[str], command: str, ids: list[str]
) -> None:
    assert main([command]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ids


def test_profiles_listing_uses_an_extra_folder_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    text = (PROFILES_DIR / "gd-o2-mb.yaml").read_text(encoding="utf-8")
    (folder / "gd-o2-mb.yaml").write_text(
        text.replace("model: GD-100 O2", "model: Site O2"), encoding="utf-8"
    )
    assert main(["--profiles-dir", str(tmp_path), "profiles"]) == 0
    assert "Site O2" in capsys.readouterr().out


def test_check_accepts_every_data_file_and_a_plant(capsys: pytest.CaptureFixture[str]) -> None:
    files = [*DATA_FILES, SITE]
    assert main(["check", *map(str, files)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(files)
    assert all(line.startswith("ok  ") for line in out)
    assert "scenario dust-episode" in out[-1]


def test_check_reports_file_field_and_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load((PROFILES_DIR / "gd-co-mb.yaml").read_text(encoding="utf-8"))
    data["points"][0]["modbus"]["type"] = "uint33"
    bad = tmp_path / "gd-co-mb.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    good = PROFILES_DIR / "gd-h2s-mb.yaml"
    assert main(["check", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}: points[0].modbus.type = 'uint33'" in captured.err
    assert f"ok  {good}" in captured.out  # one bad file does not hide the others' results


def test_check_refuses_a_file_of_no_known_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    odd = tmp_path / "odd.yaml"
    odd.write_text("colour: blue\n", encoding="utf-8")
    assert main(["check", str(odd)]) == 1
    assert "not a profile" in capsys.readouterr().err


def test_check_refuses_a_plant_whose_scenario_does_not_fit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(SITE.read_text(encoding="utf-8"))
    data["simulation"]["scenario"] = "h2s-leak"
    plant = tmp_path / "site.yaml"
    plant.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["check", str(plant)]) == 1
    err = capsys.readouterr().err
    assert str(plant) in err
    assert "unknown device 'gas-h2s-01'" in err


def test_run_dry_run_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SITE), "--dry-run", "--seed", "9", "--bind", "127.0.0.2"]) == 0
    out = capsys.readouterr().out
    assert "plant site-xa-metro-07: 8 devices on 3 endpoints, scenario dust-episode, seed 9" in out
    assert "modbus+tcp://127.0.0.2:17020: lel-shaft-01 (gd-lel-mb), o2-shaft-01 (gd-o2-mb)" in out
    assert "mqtt publisher -> mqtt://127.0.0.1:1883: dust-01 (gs-dust-mqtt)" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--scenario", "no-such"], "unknown scenario 'no-such'"),
        (["--serial-map", "/dev/ttyUSB0"], "must be AGENT=SIM"),
        (["--scenario", "h2s-leak"], "unknown device 'gas-h2s-01'"),
    ],
)
def test_run_refuses_bad_options_before_serving(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    factory = FakeFactory()
    assert main(["run", str(SITE), *args], server_factory=factory) == 1
    assert expected in capsys.readouterr().err
    assert factory.servers == []


def test_run_refuses_a_bad_plant_naming_file_field_and_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(SITE.read_text(encoding="utf-8"))
    data["devices"][5]["unit_id"] = 300
    plant = tmp_path / "site.yaml"
    plant.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["run", str(plant)]) == 1
    assert f"{plant}: devices[5].unit_id = 300" in capsys.readouterr().err


def test_seed_comes_from_the_option_the_plant_or_the_scenario(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(SITE.read_text(encoding="utf-8"))
    assert main(["run", str(SITE), "--dry-run"]) == 0
    assert f"seed {data['simulation']['seed']}" in capsys.readouterr().out
    del data["simulation"]["seed"]
    plant = tmp_path / "site.yaml"
    plant.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["run", str(plant), "--dry-run"]) == 0
    assert f"seed {Catalog().scenario('dust-episode').seed}\n" in capsys.readouterr().out
    assert main(["run", str(plant), "--dry-run", "--scenario", "none"]) == 0
    assert "scenario none, seed 0" in capsys.readouterr().out


def test_run_serves_plays_and_stops_after_duration(capsys: pytest.CaptureFixture[str]) -> None:
    factory = FakeFactory()
    assert main(["run", str(SITE), "--duration", "0.2"], server_factory=factory) == 0
    out = capsys.readouterr().out
    assert len(factory.servers) == 3  # Modbus gateway, MQTT publisher, shaft PLC
    assert all(s.events == ["start", "stop"] for _, s in factory.servers)
    for _, server in factory.servers:
        assert f"serving {server.endpoint}" in out
    assert "ready;" in out
    assert out.rstrip().endswith("stopped")


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["check", "--help"], ["profiles", "--help"]]
)
def test_help_everywhere(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("usage: hse-sim")


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_python_dash_m_simulators_runs_the_cli(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "simulators", "--help"],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0
    assert "usage: hse-sim" in ok.stdout
    bad = tmp_path / "x.yaml"
    bad.write_text("[unclosed\n", encoding="utf-8")
    failed = subprocess.run(
        [sys.executable, "-m", "simulators", "check", str(bad)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 1
    assert "YAML syntax error at line 2, column 1" in failed.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stops_every_server_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    # A real process with a real signal; only the protocol servers are fakes (see module
    # test_sim_cli_plant), since they live on other branches until integration.
    code = (
        "import sys\n"
        "from simulators.cli import main\n"
        "from tests.unit.test_sim_cli_plant import FakeFactory\n"
        f"sys.exit(main(['run', {str(SITE)!r}], server_factory=FakeFactory()))\n"
    )
    child = Child([sys.executable, "-c", code], log=tmp_path / "sim.log", env=python_env())
    try:
        wait_for(lambda: "ready;" in child.output(), timeout_s=60, what="hse-sim ready")
        os.killpg(child.pid, sig)
        returncode = child.proc.wait(timeout=30)
    finally:
        child.stop()
    out = (tmp_path / "sim.log").read_text(errors="replace")
    assert returncode == 0, out
    assert out.count("fake stopped") == 3
    assert "\nstopped\n" in out
