"""The plant config: one YAML file per agent, validated at load, refused when wrong.

Errors name the file, the field path, the value and what was expected. Secrets (the agent's token
for central) come from the environment or a file, never from the YAML itself in production, and are
held as ``SecretStr`` so they never print. Environment variables override deployment settings:

    HSE_EDGE_CENTRAL_URL      central.url
    HSE_EDGE_CENTRAL_TOKEN    the token itself (takes precedence over token_env / token_file)
    HSE_EDGE_OUTBOX_PATH      outbox.path
    HSE_EDGE_STATUS_PORT      status.port
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from device_profiles import DeviceEntry
from device_profiles.loader import FieldProblem, ProfileError, problems_from, read_yaml

from .interlocks.config import InterlocksConfig

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]

GIB = 1 << 30


class ConfigError(ValueError):
    """A plant config does not validate; the message lists every problem with its location."""

    def __init__(self, file: str, problems: list[FieldProblem]) -> None:
        self.file = file
        self.problems = problems
        lines = "\n".join(f"  {file}: {p}" for p in problems)
        super().__init__(f"{file}: {len(problems)} problem(s)\n{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CentralConfig(_Model):
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+.*$")] | None = None
    token: SecretStr | None = None  # for tests and demos; deployments use token_env or token_file
    token_env: str | None = None
    token_file: Path | None = None
    verify_tls: bool | Path = True
    # Records per POST. Central takes up to 20,000; 5,000 (about 1 MB of JSON, 100 kB gzipped)
    # keeps a backlog drain to a few round trips a second without large requests.
    batch_size: int = Field(5000, ge=1, le=20_000)
    heartbeat_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    # The longest wait between two tries while central is unreachable (the backoff doubles from
    # 1 s, with jitter). Short, so a backlog starts draining within seconds of central's return;
    # one small request every 2 s per agent is no load, and a busy central pushes back with
    # 429/503 and Retry-After, which the agent honours whatever this is.
    retry_max_s: float = Field(2.0, gt=0, le=600)

    def resolve_token(self, base_dir: Path, env: Mapping[str, str]) -> SecretStr | None:
        """The agent's token from, in order: HSE_EDGE_CENTRAL_TOKEN, token_env, token_file, token."""
        if env.get("HSE_EDGE_CENTRAL_TOKEN"):
            return SecretStr(env["HSE_EDGE_CENTRAL_TOKEN"])
        if self.token_env:
            value = env.get(self.token_env)
            if not value:
                raise LookupError(
                    f"central.token_env: environment variable {self.token_env!r} is not set"
                )
            return SecretStr(value)
        if self.token_file:
            path = self.token_file if self.token_file.is_absolute() else base_dir / self.token_file
            try:
                return SecretStr(path.read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise LookupError(
                    f"central.token_file: cannot read {str(path)!r}: {exc.strerror}"
                ) from exc
        return self.token


class OutboxConfig(_Model):
    path: Path = Path("data/outbox.db")
    quota_bytes: int = Field(GIB, ge=1 << 20)
    live_window_s: float = Field(60.0, gt=0)
    flush_interval_s: float = Field(0.2, gt=0, le=5)


class StatusConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8710, ge=0, le=65535)  # 0: any free port
    enabled: bool = True
    # Alarm actions (ack, shelve, reset) over the status API need this operator token, read from
    # the environment variable named here; without it the API is read-only.
    operator_token_env: str | None = "HSE_EDGE_OPERATOR_TOKEN"  # noqa: S105  (a variable name, not a secret)


class QualityConfig(_Model):
    """Thresholds of the quality stage (hse-standards.md §8.3)."""

    flatline_samples: int = Field(30, ge=3)  # identical-within-resolution samples before "stuck"
    spike_window: int = Field(9, ge=5, le=101)  # samples in the rolling median
    spike_k: float = Field(5.0, gt=0)  # |x - median| > k * MAD, k = 5 per §8.3
    max_future_skew_s: float = Field(300.0, ge=0)  # a source time further ahead is implausible


class SimulationConfig(_Model):
    """Read by ``hse-sim`` only; the agent ignores it."""

    seed: int = 0
    scenario: str | None = None


class PlantConfig(_Model):
    schema_version: Literal[1] = 1
    plant_id: Ident
    agent_id: Ident
    region: Ident | None = None
    name: str = ""
    limit_set: str = "cn-gbz-2019"
    profiles_dirs: list[Path] = Field(default_factory=list)
    central: CentralConfig = Field(default_factory=CentralConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    devices: list[DeviceEntry] = Field(default_factory=list)
    plcs: list[DeviceEntry] = Field(default_factory=list)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    rules: dict[str, Any] = Field(default_factory=dict)  # validated by edge_agent.rules
    interlocks: InterlocksConfig = Field(default_factory=InterlocksConfig)

    @model_validator(mode="after")
    def _unique_ids(self) -> PlantConfig:
        ids = [d.id for d in [*self.devices, *self.plcs]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(
                f"device ids must be unique across devices and plcs, repeated: {dupes}"
            )
        return self

    def all_devices(self) -> list[DeviceEntry]:
        return [*self.devices, *self.plcs]


_ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "HSE_EDGE_CENTRAL_URL": ("central", "url"),
    "HSE_EDGE_OUTBOX_PATH": ("outbox", "path"),
    "HSE_EDGE_STATUS_PORT": ("status", "port"),
}


def apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    out = dict(data)
    for var, (section, key) in _ENV_OVERRIDES.items():
        if var in env:
            block = dict(out.get(section) or {})
            block[key] = env[var]
            out[section] = block
    return out


def load_config(path: Path | str, env: Mapping[str, str] | None = None) -> PlantConfig:
    """Read and validate a plant config; raises :class:`ConfigError` listing every problem."""
    path = Path(path)
    env = os.environ if env is None else env
    try:
        data = read_yaml(path)
    except ProfileError as exc:
        raise ConfigError(str(path), exc.problems) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), [FieldProblem("", data, "expected a mapping at the top level")]
        )
    data = apply_env(data, env)
    try:
        config = PlantConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), problems_from(exc, data)) from exc
    base = path.resolve().parent
    # Relative paths in the config are relative to the config file, not to the working directory.
    updates: dict[str, Any] = {
        "profiles_dirs": [p if p.is_absolute() else base / p for p in config.profiles_dirs],
    }
    if not config.outbox.path.is_absolute():
        updates["outbox"] = config.outbox.model_copy(update={"path": base / config.outbox.path})
    return config.model_copy(update=updates)
