"""What one app instance holds: settings, engine, metrics, ingest service; on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from central.core.config import Settings
from central.core.metrics import Metrics
from central.ingest import IngestService


@dataclass(frozen=True, slots=True)
class CentralState:
    settings: Settings
    engine: Engine
    metrics: Metrics
    ingest: IngestService
