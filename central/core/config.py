"""Central's settings: typed, checked at load, from defaults < a YAML file < environment < CLI.

Every key can be set in the YAML file (flat mapping, same names) or as an environment variable
``HSE_CENTRAL_<KEY>`` (upper case). The file is named by ``--config`` or ``HSE_CENTRAL_CONFIG``.
An unknown key is an error (a typo must not silently fall back to a default), and every error
names the key, where it came from, the value and the expectation. Secrets (a password inside
``database_url``) are masked in errors, in ``repr`` and in logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from central.errors import SettingsError
from protocols.sync import MAX_RECORDS_PER_BATCH

ENV_PREFIX = "HSE_CENTRAL_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
# Variables with the prefix that are not settings: the CLI reads them itself.
RESERVED_ENV = frozenset({CONFIG_ENV, ENV_PREFIX + "USER_PASSWORD"})
MIB = 1024 * 1024


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``; other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit((parts.scheme, f"{user}@{netloc[-1]}", parts.path, parts.query, ""))


class Settings(BaseModel):
    """Everything central needs to run. Immutable; build one with :func:`load_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(default="sqlite:///hse-central.db", repr=False)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    access_log: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    # Ingest limits. The record cap is the wire schema's own (protocols.sync).
    max_body_bytes: int = Field(default=16 * MIB, gt=0)
    max_inflated_bytes: int = Field(default=64 * MIB, gt=0)
    max_records_per_batch: int = Field(default=MAX_RECORDS_PER_BATCH, gt=0)
    max_future_skew_s: float = Field(default=3600.0, ge=0)
    min_valid_ts: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_commands_per_ack: int = Field(default=50, ge=0, le=1000)
    ingest_retries: int = Field(default=3, ge=1, le=10)
    ingest_concurrency: int = Field(default=3, ge=1, le=256)
    """Batches decoded and stored at once per process (more wait in line, bounded by clients)."""
    agent_auth_cache_s: float = Field(default=5.0, ge=0, le=300)
    """How long a checked agent token is trusted without a lookup (0: look up every batch)."""

    # Users and queries.
    user_token_ttl_s: int = Field(default=8 * 3600, gt=0)
    default_query_limit: int = Field(default=1000, gt=0)
    max_query_limit: int = Field(default=10_000, gt=0)
    agent_stale_after_s: float = Field(default=300.0, gt=0)

    # Organisation and time.
    org_name: str = Field(default="HQ", max_length=200)
    """The root of the org tree (HQ -> region -> plant -> area)."""
    timezone: str = "UTC"
    """The server's IANA time zone: office hours of fleet-wide exports, plants without one."""

    # Access audit: the export guard. Defaults: more than 5 exports in 10 minutes outside
    # 07:00-19:00 lock the account until an admin unlocks it.
    export_burst_count: int = Field(default=5, ge=1, le=10_000)
    """Exports out of hours allowed within the window; one more locks the account."""
    export_burst_window_s: float = Field(default=600.0, gt=0, le=7 * 86400)
    office_hours_start: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    office_hours_end: str = Field(default="19:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    # Fleet KPIs (hse-standards.md §1.3-1.4).
    kpi_slot_s: int = Field(default=600, ge=60, le=86400)
    """Alarm rates per 10-minute period (ISA-18.2 / EEMUA 191 rate targets are per 10 min)."""
    flood_alarms: int = Field(default=10, ge=1)
    """A period with more than this many alarms is a flood (§1.3: > 10 in 10 min [A5][A6][A8])."""
    chatter_count: int = Field(default=3, ge=2)
    chatter_window_s: float = Field(default=60.0, gt=0)
    """Chattering: ``chatter_count`` raises within this window (§1.3: 3 in 1 min [A7])."""
    stale_after_s: float = Field(default=86_400.0, gt=0)
    """Stale: active longer than this (§1.3: 24 h [A12][A11])."""
    ack_target_s: float = Field(default=600.0, gt=0)
    """Time-to-acknowledge target for "% acknowledged in time" (a site choice; 10 min default)."""
    expected_poll_interval_s: float = Field(default=10.0, gt=0)
    """Stands in for a point's poll interval when its agent does not say (data completeness)."""
    kpi_default_days: float = Field(default=30.0, gt=0, le=366)
    """Default KPI period: ISA-18.2 §16.4 assesses alarm metrics over at least 30 days (§1.4)."""

    # Compliance ledger.
    catalog_dirs: list[str] = Field(default_factory=list)
    """Folders with the fleet's own limit sets (``limit_sets/*.yaml``), searched first."""
    ledger_max_days: int = Field(default=366, ge=1, le=3660)
    evidence_readings: int = Field(default=50, ge=1, le=10_000)
    """Raw readings listed per exceedance (the count of all of them is always given)."""

    # Database connections.
    db_pool_size: int = Field(default=8, ge=1, le=200)
    db_connect_timeout_s: float = Field(default=10.0, gt=0)
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].lower()
        if scheme not in {"sqlite", "postgresql", "postgresql+psycopg", "postgres"}:
            raise ValueError("expected sqlite:///<path> or postgresql://user@host:port/db")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from .clock import zone

        zone(value)  # raises ValueError naming the zone
        return value

    @field_validator("min_valid_ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a timezone (UTC)")
        return value.astimezone(UTC)

    @property
    def database_url_masked(self) -> str:
        return mask_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def safe_dict(self) -> dict[str, Any]:
        """The settings for a log line or ``--show-config``: secrets masked."""
        data = self.model_dump(mode="json")
        data["database_url"] = self.database_url_masked
        return data


SECRET_KEYS = frozenset({"database_url"})
LIST_KEYS = frozenset({"catalog_dirs"})


def _shown(key: str, value: Any) -> str:
    if key in SECRET_KEYS and isinstance(value, str):
        return repr(mask_url(value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot read it ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"config file {path}: expected a mapping of setting names to values, "
            f"got {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}


def load_settings(
    *,
    config_file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, the YAML file, ``HSE_CENTRAL_*`` variables and ``overrides`` (CLI).

    Raises :class:`SettingsError` naming the key, its source and value, and the expectation.
    """
    env = os.environ if env is None else env
    sources: dict[str, str] = {}
    merged: dict[str, Any] = {}

    file_name = config_file if config_file is not None else env.get(CONFIG_ENV)
    if file_name:
        path = Path(file_name)
        for key, value in _read_yaml(path).items():
            merged[key] = value
            sources[key] = f"config file {path}"

    fields = Settings.model_fields
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in fields:
            raise SettingsError(
                f"environment variable {name}: unknown setting {key!r}; "
                f"known: {', '.join(sorted(fields))}"
            )
        # A list setting comes as JSON (``["/etc/hse/limits"]``) or path-separated text.
        if key in LIST_KEYS and not value.lstrip().startswith("["):
            merged[key] = [part for part in value.split(os.pathsep) if part]
        elif key in LIST_KEYS:
            try:
                merged[key] = json.loads(value)
            except ValueError as exc:
                raise SettingsError(
                    f"environment variable {name}: not a JSON list ({exc})"
                ) from None
        else:
            merged[key] = value
        sources[key] = f"environment variable {name}"

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        merged[key] = value
        sources[key] = "command line"

    unknown = sorted(k for k in merged if k not in fields)
    if unknown:
        key = unknown[0]
        raise SettingsError(
            f"{sources[key]}: unknown setting {key!r}; known: {', '.join(sorted(fields))}"
        )
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "(settings)"
            where = sources.get(key, "default")
            value = merged.get(key, err.get("input"))
            lines.append(f"{where}: {key} = {_shown(key, value)}: {err['msg']}")
        # `from None`: pydantic's own message would repeat the raw input, secrets included.
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
