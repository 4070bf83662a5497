"""Fleet KPIs over a period, per plant and rolled up per region: one set-based query per family.

Families and definitions (targets from hse-standards.md §1.3-1.4, cited beside each):

- **Alarm load**: alarms raised (``raise`` transitions of ``alarm`` and ``exposure`` events) per
  10-minute slot of the period (slots counted from ``start``; empty slots count as 0).
  ``alarms_per_10min_avg`` = raised / slots (ISA-18.2: ~1 acceptable, ~2 manageable [A8][A9]);
  ``alarms_per_10min_peak`` = the fullest slot (<= 10 [A8]); ``flood_periods_pct`` = slots with
  more than ``flood_alarms`` (10 [A5][A6][A8]) / slots (target < ~1 % [A10][A15]).
  ``exposure_exceedances`` = raised ``exposure.*`` alarms.
- **Chattering**: alarms raised ``chatter_count`` (3) times within ``chatter_window_s`` (60 s)
  in the period [A7]; target 0 [A10].
- **Stale**: alarms whose last raise before ``end`` is older than ``stale_after_s`` (24 h
  [A12][A11]) and not cleared since; target < 5 [A10].
- **Time to acknowledge**: each raise in the period paired with the first ``ack`` of the same
  alarm (point and kind) at or after it, before its next raise and before ``end`` (index
  seeks on ``ix_event_alarm``, no sort of the period's events). A raise is *judged* when acknowledged, or
  raised at least ``ack_target_s`` before ``end`` (one still inside its target cannot be judged
  yet). ``ack_within_target_pct`` = judged raises acknowledged within the target / judged;
  ``tta_mean_s`` and ``tta_p90_s`` (nearest rank) over the acknowledged ones.
- **Data quality**: from the roll-ups (whole UTC days from the daily one, the ends from the
  hourly one), in whole UTC hours of the period (up to now):
  ``data_completeness_pct`` = readings received / readings expected (hours x 3600 / the point's
  poll interval); ``sensor_availability_pct`` = good readings / readings. Points an agent only
  writes (a safety PLC's interlock outputs, ``measured`` false) are left out.
  ``calibration_overdue`` = devices whose calibration due date is before ``end``.

Region roll-ups add counts, numerators and denominators (never average percentages); the
time-to-acknowledge percentile of a region is computed over its raises, in the same query.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session

from central.core.config import Settings
from central.core.epoch import iso
from central.models import DAY_US, HOUR_US, DeviceQuality, Kpis

ALARMISH = "('alarm', 'exposure')"

ALARM_LOAD_SQL = text(
    f"""
SELECT plant_id, SUM(n), MAX(n), SUM(CASE WHEN n > :flood THEN 1 ELSE 0 END), SUM(x)
FROM (SELECT plant_id, (ts - :start) / :slot AS slot, COUNT(*) AS n,
             SUM(CASE WHEN category = 'exposure' THEN 1 ELSE 0 END) AS x
      FROM event
      WHERE plant_id IN :plants AND ts >= :start AND ts < :end
        AND transition = 'raise' AND category IN {ALARMISH}
      GROUP BY plant_id, 2) s
GROUP BY plant_id
"""  # noqa: S608  (ALARMISH is a constant)
).bindparams(bindparam("plants", expanding=True))

CHATTER_SQL = text(
    f"""
SELECT plant_id, COUNT(*)
FROM (SELECT DISTINCT plant_id, point_id, kind
      FROM (SELECT plant_id, point_id, kind, ts,
                   LAG(ts, CAST(:back AS INTEGER)) OVER (
                       PARTITION BY plant_id, point_id, kind ORDER BY ts, agent_id, seq) AS prev
            FROM event
            WHERE plant_id IN :plants AND ts >= :start AND ts < :end
              AND transition = 'raise' AND category IN {ALARMISH}) r
      WHERE prev IS NOT NULL AND ts - prev <= :window) c
GROUP BY plant_id
"""  # noqa: S608
).bindparams(bindparam("plants", expanding=True))

STALE_SQL = text(
    f"""
SELECT plant_id, COUNT(*)
FROM (SELECT plant_id, point_id, kind,
             MAX(CASE WHEN transition = 'raise' THEN ts END) AS raised,
             MAX(CASE WHEN transition = 'clear' THEN ts END) AS cleared
      FROM event
      WHERE plant_id IN :plants AND ts < :end AND category IN {ALARMISH}
        AND transition IN ('raise', 'clear')
      GROUP BY plant_id, point_id, kind) a
WHERE raised IS NOT NULL AND raised <= :stale_before AND (cleared IS NULL OR cleared < raised)
GROUP BY plant_id
"""  # noqa: S608
).bindparams(bindparam("plants", expanding=True))

TTA_SQL = text(
    f"""
WITH ep AS MATERIALIZED (
  SELECT r.plant_id, r.ts AS raised,
         (SELECT MIN(a.ts) FROM event a
          WHERE a.point_id = r.point_id AND a.kind = r.kind AND a.transition = 'ack'
            AND a.ts >= r.ts AND a.ts < :end
            AND a.ts < COALESCE((SELECT MIN(n.ts) FROM event n
                                 WHERE n.point_id = r.point_id AND n.kind = r.kind
                                   AND n.transition = 'raise' AND n.ts > r.ts), :end)) AS acked
  FROM event r
  WHERE r.plant_id IN :plants AND r.ts >= :start AND r.ts < :end
    AND r.transition = 'raise' AND r.category IN {ALARMISH}
), judged AS (
  SELECT ep.plant_id, p.region_id, ep.acked - ep.raised AS tta
  FROM ep JOIN plant p ON p.id = ep.plant_id
  WHERE ep.acked IS NOT NULL OR ep.raised <= :judge_before
), ranked AS MATERIALIZED (
  SELECT plant_id, region_id, tta,
         ROW_NUMBER() OVER (PARTITION BY plant_id
                            ORDER BY CASE WHEN tta IS NULL THEN 1 ELSE 0 END, tta) AS rn_p,
         COUNT(tta) OVER (PARTITION BY plant_id) AS n_p,
         ROW_NUMBER() OVER (PARTITION BY region_id
                            ORDER BY CASE WHEN tta IS NULL THEN 1 ELSE 0 END, tta) AS rn_r,
         COUNT(tta) OVER (PARTITION BY region_id) AS n_r
  FROM judged
)
SELECT 'plant', plant_id, COUNT(*), SUM(CASE WHEN tta <= :target THEN 1 ELSE 0 END), AVG(tta),
       MIN(CASE WHEN tta IS NOT NULL AND rn_p * 10 >= n_p * 9 THEN tta END)
FROM ranked GROUP BY plant_id
UNION ALL
SELECT 'region', region_id, COUNT(*), SUM(CASE WHEN tta <= :target THEN 1 ELSE 0 END), AVG(tta),
       MIN(CASE WHEN tta IS NOT NULL AND rn_r * 10 >= n_r * 9 THEN tta END)
FROM ranked GROUP BY region_id
"""  # noqa: S608
).bindparams(bindparam("plants", expanding=True))

DATA_SQL = text(
    """
SELECT pt.plant_id, d.key, d.calibration_due_ts, COUNT(DISTINCT pt.id),
       COALESCE(SUM(h.samples), 0), COALESCE(SUM(h.good), 0),
       SUM(:span_s / COALESCE(pt.poll_interval_s, :poll_s))
FROM point pt
JOIN device d ON d.id = pt.device_id
LEFT JOIN (SELECT point_id, SUM(samples) AS samples, SUM(good) AS good
           FROM (SELECT r.point_id, r.samples, r.good
                 FROM point q JOIN reading_daily r ON r.point_id = q.id
                 WHERE q.plant_id IN :plants AND r.day_ts >= :dstart AND r.day_ts < :dend
                 UNION ALL
                 SELECT r.point_id, r.samples, r.good
                 FROM point q JOIN reading_hourly r ON r.point_id = q.id
                 WHERE q.plant_id IN :plants AND r.hour_ts IN :hours) u
           GROUP BY point_id) h ON h.point_id = pt.id
WHERE pt.plant_id IN :plants AND pt.measured
GROUP BY pt.plant_id, d.id, d.key, d.calibration_due_ts
ORDER BY pt.plant_id, d.key
"""
).bindparams(bindparam("plants", expanding=True), bindparam("hours", expanding=True))

BETTER = {
    "alarms_total": "lower",
    "alarms_per_10min_avg": "lower",
    "alarms_per_10min_peak": "lower",
    "flood_periods_pct": "lower",
    "chattering_alarms": "lower",
    "stale_alarms": "lower",
    "ack_within_target_pct": "higher",
    "tta_mean_s": "lower",
    "tta_p90_s": "lower",
    "exposure_exceedances": "lower",
    "data_completeness_pct": "higher",
    "sensor_availability_pct": "higher",
    "calibration_overdue": "lower",
}
"""The KPIs a ranking can use, and which way each improves."""


@dataclass
class PlantNumbers:
    """Numerators and denominators of one plant (or region), before they become KPIs."""

    slots: int = 0
    raised: int = 0
    peak: int = 0
    flood_slots: int = 0
    exposure: int = 0
    chattering: int = 0
    stale: int = 0
    judged: int = 0
    in_time: int = 0
    tta_sum_s: float = 0.0
    acked: int = 0
    tta_mean_s: float | None = None
    tta_p90_s: float | None = None
    readings: int = 0
    good: int = 0
    expected: float = 0.0
    calibration_overdue: int = 0
    devices: list[DeviceQuality] = field(default_factory=list)

    def add(self, other: PlantNumbers) -> None:
        """Roll ``other`` into this one (TTA percentiles come from SQL, not from here)."""
        self.slots += other.slots
        self.raised += other.raised
        self.peak = max(self.peak, other.peak)
        self.flood_slots += other.flood_slots
        self.exposure += other.exposure
        self.chattering += other.chattering
        self.stale += other.stale
        self.readings += other.readings
        self.good += other.good
        self.expected += other.expected
        self.calibration_overdue += other.calibration_overdue

    def kpis(self) -> Kpis:
        return Kpis(
            alarms_total=self.raised,
            alarms_per_10min_avg=_ratio(self.raised, self.slots),
            alarms_per_10min_peak=self.peak,
            flood_periods_pct=_pct(self.flood_slots, self.slots),
            chattering_alarms=self.chattering,
            stale_alarms=self.stale,
            acks_judged=self.judged,
            ack_within_target_pct=_pct(self.in_time, self.judged),
            tta_mean_s=self.tta_mean_s,
            tta_p90_s=self.tta_p90_s,
            exposure_exceedances=self.exposure,
            readings=self.readings,
            expected_readings=round(self.expected, 3),
            data_completeness_pct=_pct(self.readings, self.expected),
            sensor_availability_pct=_pct(self.good, self.readings),
            calibration_overdue=self.calibration_overdue,
        )


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 4) if den else None


def _s(us: Any) -> float | None:
    return None if us is None else round(float(us) / 1e6, 3)


@dataclass(frozen=True, slots=True)
class Period:
    start_us: int
    end_us: int
    now_us: int


def kpi_numbers(
    session: Session, *, plant_ids: list[int], period: Period, settings: Settings
) -> tuple[dict[int, PlantNumbers], dict[int, PlantNumbers]]:
    """(numbers per plant id, TTA numbers per region id) for the period."""
    plants: dict[int, PlantNumbers] = defaultdict(PlantNumbers)
    regions: dict[int, PlantNumbers] = defaultdict(PlantNumbers)
    if not plant_ids:
        return plants, regions
    s = settings
    start, end = period.start_us, period.end_us
    slot_us = s.kpi_slot_s * 1_000_000
    slots = -(-(end - start) // slot_us)
    common = {"plants": plant_ids, "start": start, "end": end}
    for pid in plant_ids:
        plants[pid].slots = slots

    for pid, raised, peak, floods, exposure in session.exec(  # type: ignore[call-overload]
        ALARM_LOAD_SQL, params={**common, "slot": slot_us, "flood": s.flood_alarms}
    ):
        n = plants[pid]
        n.raised, n.peak, n.flood_slots, n.exposure = (
            int(raised),
            int(peak),
            int(floods),
            int(exposure),
        )
    window_us = round(s.chatter_window_s * 1_000_000)
    for pid, count in session.exec(  # type: ignore[call-overload]
        CHATTER_SQL, params={**common, "back": s.chatter_count - 1, "window": window_us}
    ):
        plants[pid].chattering = int(count)
    stale_before = end - round(s.stale_after_s * 1_000_000)
    for pid, count in session.exec(  # type: ignore[call-overload]
        STALE_SQL, params={**common, "stale_before": stale_before}
    ):
        plants[pid].stale = int(count)
    target_us = round(s.ack_target_s * 1_000_000)
    for level, key, judged, in_time, mean, p90 in session.exec(  # type: ignore[call-overload]
        TTA_SQL, params={**common, "target": target_us, "judge_before": end - target_us}
    ):
        n = plants[key] if level == "plant" else regions[key]
        n.judged, n.in_time = int(judged), int(in_time or 0)
        n.tta_mean_s, n.tta_p90_s = _s(mean), _s(p90)

    # Data quality in whole UTC hours, up to now: an hour that has not begun expects nothing.
    hstart = start - start % HOUR_US
    upto = min(end, period.now_us)
    hend = upto - upto % HOUR_US + (HOUR_US if upto % HOUR_US else 0)
    span_s = max(0, hend - hstart) / 1e6
    # Whole UTC days from the daily roll-up, the ragged ends from the hourly one.
    dstart = -(-hstart // DAY_US) * DAY_US
    dend = hend - hend % DAY_US
    if dstart >= dend:
        dstart = dend = hend
    for pid, device, due, points, readings, good, expected in session.exec(  # type: ignore[call-overload]
        DATA_SQL,
        params={
            "plants": plant_ids,
            # The ragged ends as a list of hours (at most 46): point-and-hour key lookups, which
            # no planner mistakes for a reason to scan the whole roll-up.
            "hours": [*range(hstart, dstart, HOUR_US), *range(dend, hend, HOUR_US)],
            "dstart": dstart,
            "dend": dend,
            "span_s": span_s,
            "poll_s": s.expected_poll_interval_s,
        },
    ):
        n = plants[pid]
        overdue = due is not None and due < end
        expected_f = float(expected or 0.0)
        n.readings += int(readings)
        n.good += int(good)
        n.expected += expected_f
        n.calibration_overdue += int(overdue)
        n.devices.append(
            DeviceQuality(
                device=device,
                points=int(points),
                readings=int(readings),
                expected_readings=round(expected_f, 3),
                data_completeness_pct=_pct(int(readings), expected_f),
                sensor_availability_pct=_pct(int(good), int(readings)),
                calibration_due=iso(due),
                calibration_overdue=overdue,
            )
        )
    return plants, regions


__all__ = ["BETTER", "Period", "PlantNumbers", "kpi_numbers"]
