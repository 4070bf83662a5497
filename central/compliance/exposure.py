"""What the agents judged about exposure, for the ledger: the ``exposure.*`` alarms they raised
(STEL over a rolling 15 min, shift TWA, noise dose, ceiling, and the warnings: projections and
noise action levels) and their end-of-shift reports (``exposure.shift``: TWA, STEL, LEX,8h with
the coverage behind each).

Central cannot recompute a STEL or a noise dose from a daily roll-up (ledger.py evaluates TWA
and ceilings only); the agent computes them from every reading as it arrives, so its events are
the evidence. Read by one indexed scan of the plant's events in the period (``ix_event_kpi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, and_, func, or_, select
from sqlmodel import Session

from central.core.clock import local
from central.core.epoch import iso
from central.models import Device, Event, ExposureFinding, Point

EXCEEDED = frozenset({"exposure.stel", "exposure.twa", "exposure.ceiling", "exposure.noise_dose"})
"""Raised when a limit of the plant's set is exceeded (edge_agent.rules.exposure)."""

SHIFT_REPORT = "exposure.shift"
MAX_LISTED = 1000
"""Findings listed per ledger (a report stays printable); the exceeded count is always whole."""

event_t: Table = Event.__table__  # type: ignore[attr-defined]
point_t: Table = Point.__table__  # type: ignore[attr-defined]
device_t: Table = Device.__table__  # type: ignore[attr-defined]


def judged(kind: str) -> str:
    """How the ledger reads an agent's exposure event of ``kind``."""
    if kind in EXCEEDED:
        return "exceeded"
    if kind == SHIFT_REPORT:
        return "shift_report"
    if kind.endswith("_projection"):
        return "projected"
    if kind in ("exposure.noise_action", "exposure.noise_upper_action"):
        return "action_level"
    if kind == "exposure.peak":
        return "peak_allowance"  # above the ceiling, within the set's peak allowance
    if kind == "exposure.stel_excursions":
        return "excursion_rule"  # ACGIH's 4-a-shift / 60-min rule: a practice, not a set's limit
    return "other"


def _where(plant_id: int, start_us: int, end_us: int) -> Any:
    e = event_t
    return and_(
        e.c.plant_id == plant_id,
        e.c.ts >= start_us,
        e.c.ts < end_us,
        e.c.category == "exposure",
        or_(
            and_(e.c.transition == "raise", e.c.kind != SHIFT_REPORT),
            and_(e.c.transition == "report", e.c.kind == SHIFT_REPORT),
        ),
    )


def exceeded_count(session: Session, *, plant_id: int, start_us: int, end_us: int) -> int:
    """Exposure limits the agents found exceeded in [start, end): every one, however many are
    listed."""
    e = event_t
    stmt = select(func.count()).where(
        _where(plant_id, start_us, end_us), e.c.kind.in_(sorted(EXCEEDED))
    )
    return int(session.exec(stmt).one()[0])  # type: ignore[call-overload]


def _shift_figures(details: Mapping[str, Any]) -> tuple[float | None, bool, list[dict[str, Any]]]:
    """(coverage of the headline figure, any figure exceeded, the figures) of a shift report."""
    figures = [f for f in details.get("figures", []) if isinstance(f, dict)]
    head = figures[0] if figures else {}
    coverage = head.get("coverage")
    return (
        float(coverage) if isinstance(coverage, int | float) else None,
        any(f.get("exceeded") is True for f in figures),
        figures,
    )


def exposure_findings(
    session: Session, *, plant_id: int, start_us: int, end_us: int, tz: str, cap: int
) -> tuple[list[ExposureFinding], bool]:
    """The first ``cap`` findings of the plant in [start, end), oldest first, and whether more
    were left out."""
    e, p, d = event_t, point_t, device_t
    stmt = (
        select(
            e.c.ts,
            e.c.kind,
            e.c.value,
            e.c.limit_value,
            e.c.priority,
            e.c.message,
            e.c.details,
            p.c.key,
            p.c.unit,
            d.c.key.label("device"),
            d.c.serial,
        )
        .join(p, p.c.id == e.c.point_id)
        .join(d, d.c.id == p.c.device_id)
        .where(_where(plant_id, start_us, end_us))
        .order_by(e.c.ts, e.c.agent_id, e.c.seq)
        .limit(cap + 1)
    )
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    out: list[ExposureFinding] = []
    for r in rows[:cap]:
        how = judged(r.kind)
        coverage: float | None = None
        over = how == "exceeded"
        figures: list[dict[str, Any]] = []
        if how == "shift_report":
            coverage, over, figures = _shift_figures(r.details or {})
        out.append(
            ExposureFinding(
                point=r.key,
                device=r.device,
                device_serial=r.serial,
                date=local(r.ts, tz).date().isoformat(),
                ts=iso(r.ts) or "",
                kind=r.kind,
                judged=how,
                exceeded=over,
                value=r.value,
                limit=r.limit_value,
                unit=r.unit,
                priority=r.priority,
                coverage=coverage,
                figures=figures,
                message=r.message,
            )
        )
    return out, len(rows) > cap


__all__ = ["EXCEEDED", "MAX_LISTED", "exceeded_count", "exposure_findings", "judged"]
