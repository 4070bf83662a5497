"""What one app instance holds: settings, engine, metrics, services, clock; on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from central.core.clock import Clock
from central.core.config import Settings
from central.core.metrics import Metrics
from central.ingest import IngestService
from device_profiles import Catalog

from .trail import AuditTrail


@dataclass(frozen=True, slots=True)
class CentralState:
    settings: Settings
    engine: Engine
    metrics: Metrics
    ingest: IngestService
    clock: Clock
    """Judges time for the export guard, KPI periods and audit rows (tests inject one)."""
    catalog: Catalog
    """Limit sets by id (built-in plus ``catalog_dirs``)."""
    trail: AuditTrail
