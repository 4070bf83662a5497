"""API answers of the fleet views: live status, KPIs per plant and region, a plant's overview.

KPI definitions and their targets (hse-standards.md §1.3-1.4) are in
:mod:`central.queries.kpi`; every rate names its unit, every share is a percentage (0-100).
"""

from __future__ import annotations

from sqlmodel import SQLModel

from .alarms import AlarmPublic


class LiveStatus(SQLModel):
    status: str
    """The worst agent status of the plant (``ok``, ``behind``, ``full``, ``offline`` ...)."""
    points: int
    points_in_alarm: int
    points_in_fault: int
    devices: int
    devices_offline: int
    agents: int
    agents_online: int
    behind_s: float
    outbox_fill: float | None


class Kpis(SQLModel):
    alarms_total: int = 0
    alarms_per_10min_avg: float | None = None
    """Alarms raised per 10-minute period, averaged over the period (ISA-18.2: ~1 acceptable,
    ~2 manageable)."""
    alarms_per_10min_peak: int = 0
    flood_periods_pct: float | None = None
    """Share of 10-minute periods with more than 10 alarms (target < ~1 %)."""
    chattering_alarms: int = 0
    """Alarms raised 3 or more times within 60 s in the period (target 0)."""
    stale_alarms: int = 0
    """Alarms active for more than 24 h at the end of the period (target < 5)."""
    acks_judged: int = 0
    """Raises whose acknowledgement can be judged: acknowledged, or older than the target."""
    ack_within_target_pct: float | None = None
    tta_mean_s: float | None = None
    tta_p90_s: float | None = None
    exposure_exceedances: int = 0
    readings: int = 0
    expected_readings: float = 0.0
    data_completeness_pct: float | None = None
    sensor_availability_pct: float | None = None
    """Share of readings of good quality."""
    calibration_overdue: int = 0
    """Devices whose calibration due date has passed."""


class DeviceQuality(SQLModel):
    device: str
    points: int
    readings: int
    expected_readings: float
    data_completeness_pct: float | None
    sensor_availability_pct: float | None
    calibration_due: str | None
    calibration_overdue: bool


class PlantKpiRow(SQLModel):
    plant: str
    name: str
    region: str
    live: LiveStatus
    kpis: Kpis
    devices: list[DeviceQuality]


class RegionKpiRow(SQLModel):
    region: str
    name: str
    plants: int
    live: LiveStatus
    kpis: Kpis


class RankEntry(SQLModel):
    rank: int
    plant: str
    region: str
    value: float | None


class Ranking(SQLModel):
    kpi: str
    better: str
    """``higher`` or ``lower``: which way the KPI improves."""
    plants: list[RankEntry]


class KpiTarget(SQLModel):
    kpi: str
    target: float
    better: str
    source: str


class FleetOverview(SQLModel):
    start: str
    end: str
    period_s: float
    slot_s: int
    ack_target_s: float
    plants: list[PlantKpiRow]
    regions: list[RegionKpiRow]
    targets: list[KpiTarget]
    ranking: Ranking | None = None


class PointNow(SQLModel):
    point: str
    device: str
    name: str
    quantity: str
    unit: str
    value: float | None
    quality: str | None
    source_ts: str | None
    age_s: float | None
    alarm_state: str | None
    """The most urgent state among the point's alarms (None: no alarm ever reported)."""
    alarms: list[str]
    """Ids of the point's alarms that are not back to normal."""
    measured: bool = True
    """False: a safety PLC's output the agent writes; ``value`` and ``source_ts`` are then the
    last value it wrote (its ``interlock.output`` event), ``quality`` None."""


class AreaNow(SQLModel):
    area: str | None
    name: str
    points: list[PointNow]


class PlantOverview(SQLModel):
    plant: str
    name: str
    region: str
    live: LiveStatus
    areas: list[AreaNow]
    active_alarms: list[AlarmPublic]
    truncated: bool
