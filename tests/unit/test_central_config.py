"""Central's settings: sources in order, errors that name key, source and value, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.core.config import Settings, load_settings, mask_url
from central.errors import SettingsError


def test_defaults_are_the_documented_limits() -> None:
    s = load_settings(env={})
    assert s.database_url.startswith("sqlite:///")
    assert s.max_body_bytes == 16 * 1024 * 1024
    assert s.max_inflated_bytes == 64 * 1024 * 1024
    assert s.max_future_skew_s == 3600
    assert s.min_valid_ts.isoformat() == "2000-01-01T00:00:00+00:00"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "central.yaml"
    config.write_text("port: 8100\nmax_future_skew_s: 60\nhost: 0.0.0.0\n")
    env = {"HSE_CENTRAL_PORT": "8200", "HSE_CENTRAL_CONFIG": str(config), "OTHER": "x"}
    s = load_settings(env=env, overrides={"host": "127.0.0.2", "workers": None})
    assert s.port == 8200  # environment beats the file
    assert s.max_future_skew_s == 60  # from the file
    assert s.host == "127.0.0.2"  # the command line beats both
    assert s.workers == 1  # None means "not given"


def test_an_unknown_key_is_named_with_its_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HSE_CENTRAL_PROT: unknown setting 'prot'"):
        load_settings(env={"HSE_CENTRAL_PROT": "1"})
    config = tmp_path / "c.yaml"
    config.write_text("max_body_byte: 5\n")
    with pytest.raises(SettingsError, match=r"config file .*c\.yaml: unknown setting"):
        load_settings(config_file=config, env={})


def test_a_bad_value_names_key_source_value_and_expectation() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env={"HSE_CENTRAL_PORT": "eighty"})
    text = str(info.value)
    assert "environment variable HSE_CENTRAL_PORT: port = 'eighty'" in text
    assert "valid integer" in text
    with pytest.raises(SettingsError, match=r"command line: max_body_bytes = 0: .*greater than 0"):
        load_settings(env={}, overrides={"max_body_bytes": 0})


def test_a_database_password_never_shows(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env={"HSE_CENTRAL_DATABASE_URL": "mysql://app:hunter2@db/hse"})
    assert "hunter2" not in str(info.value)
    assert "mysql://app:***@db/hse" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__

    s = load_settings(env={}, overrides={"database_url": "postgresql://app:hunter2@db:5432/hse"})
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s.safe_dict())
    assert s.database_url_masked == "postgresql://app:***@db:5432/hse"


def test_config_file_problems_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SettingsError, match=r"nope\.yaml: cannot read it"):
        load_settings(config_file=missing, env={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: [1,\n")
    with pytest.raises(SettingsError, match=r"broken\.yaml: not valid YAML"):
        load_settings(config_file=broken, env={})
    listy = tmp_path / "list.yaml"
    listy.write_text("- port\n")
    with pytest.raises(SettingsError, match=r"list\.yaml: expected a mapping"):
        load_settings(config_file=listy, env={})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:p@h:5/db?sslmode=require", "postgresql://u:***@h:5/db?sslmode=require"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.port = 1  # type: ignore[misc]
