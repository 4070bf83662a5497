"""Vibration trend: time to the ISO 10816-3 C/D boundary (hse-standards.md §6)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from edge_agent.rules import MachineClass, PointRules, RulePoint, RulesConfig
from edge_agent.rules.config import Foundation
from edge_agent.rules.trend import fit_models
from tests.unit.rules_kit import T0, Harness, only

DAY = 86_400.0


def vib(point_id: str = "demo/pump-1/vib") -> RulePoint:
    return RulePoint(
        point_id=point_id,
        quantity="vibration.velocity_rms",
        unit="mm/s",
        range=(0, 50),
        expected_interval_s=600,
    )


def test_linear_fit_worked_example() -> None:
    # §6.2 [V2]: 1.2 -> 5.0 mm/s over 150 days. Slope = 3.8 / 150 = 0.025333 mm/s per day;
    # 7.1 mm/s is reached at (7.1 - 1.2) / 0.025333 = 232.9 days (the source rounds to
    # "≈ 236 d, RUL ≈ 86 d"; the straight line through its two numbers gives 232.9 d, 82.9 d).
    days = np.linspace(0, 150, 16)
    ys = 1.2 + 3.8 / 150 * days
    ts = T0 + days * DAY
    linear = next(f for f in fit_models(ts, ys, [7.1]) if f.model == "linear")
    assert linear.r2 == pytest.approx(1.0)
    assert linear.crossing_ts[7.1] is not None
    assert (linear.crossing_ts[7.1] - T0) / DAY == pytest.approx(5.9 / (3.8 / 150))


def test_exponential_fit_finds_accelerating_wear() -> None:
    # y = 1.2 · e^(k·t) reaching 4.5 mm/s at day 12: k = ln(4.5/1.2) / 12 = 0.11015 per day
    k = math.log(4.5 / 1.2) / 12
    days = np.arange(0, 6, 1 / 24)
    ys = 1.2 * np.exp(k * days)
    fits = {f.model: f for f in fit_models(T0 + days * DAY, ys, [4.5])}
    assert fits["exponential"].r2 == pytest.approx(1.0)
    cross = fits["exponential"].crossing_ts[4.5]
    assert cross is not None
    assert (cross - T0) / DAY == pytest.approx(12.0)
    # the straight line is later: the exponential is the conservative answer (§6.2)
    assert fits["linear"].crossing_ts[4.5] is not None
    assert fits["linear"].crossing_ts[4.5] > cross


def test_bearing_wear_predicts_zone_cd_within_a_week() -> None:
    # Group 2 rigid (the default): C/D = 4.5 mm/s, B/C = 2.8 mm/s (§6.1 [V1]).
    # Wear 1.2 · e^(k·t) with k = ln(3.75)/12 per day: C/D at day 12. Readings every 10 min
    # with 2 % noise; the fit runs in tick once an hour. The event comes once C/D is less than
    # 7 days away, i.e. soon after day 5.
    k = math.log(4.5 / 1.2) / 12
    rng = random.Random(5)
    h = Harness([vib()], start=T0)
    raised = None
    for i in range(6 * 144):
        t_days = i / 144
        h.value(1.2 * math.exp(k * t_days) * (1 + rng.gauss(0, 0.02)), dt=600)
        events = only(h.tick(0), "prediction.")
        if events:
            assert raised is None, "raised once"
            (raised,) = events
    assert raised is not None
    assert raised.transition == "raise"
    assert raised.category.value == "prediction"
    now_days = (raised.ts - T0) / DAY
    assert 5.0 <= now_days < 5.2
    d = raised.details
    predicted_days = (d["predicted_ts"] - T0) / DAY
    assert predicted_days == pytest.approx(12.0, rel=0.03)
    assert predicted_days - now_days < 7
    assert d["model"] == "exponential"
    assert d["r2"] > 0.95
    assert d["confidence"] == "high"
    assert (d["boundary_cd"], d["boundary_bc"], raised.limit) == (4.5, 2.8, 4.5)
    assert d["predicted_bc_ts"] < d["predicted_ts"]
    (snap,) = h.engine.predictions()
    assert snap.active
    # fits are bounded: at most one per hourly bucket, not one per reading
    assert h.engine.statistics().trend_fits <= 6 * 24 + 1


def test_too_few_points_or_a_poor_fit_refuses_to_extrapolate() -> None:
    rng = random.Random(9)
    h = Harness([vib()], start=T0)
    for _ in range(3 * 6):  # 3 h: 3 hourly means
        h.value(2.0 + rng.gauss(0, 0.05), dt=600)
        h.tick(0)
    (snap,) = h.engine.predictions()
    assert snap.refused is not None
    assert "at least 5 are needed" in snap.refused
    for _ in range(48 * 6):  # two more days of noise around a flat level
        h.value(2.0 + rng.gauss(0, 0.3), dt=600)
        h.tick(0)
    (snap,) = h.engine.predictions()
    assert snap.refused is not None
    assert snap.refused.startswith("poor fit") or snap.refused == "no rising trend"
    assert snap.predicted_cd_ts is None
    assert only(h.events, "prediction.") == []


def test_machine_class_comes_from_config() -> None:
    # Group 1 flexible: C/D 11.0 mm/s (§6.1 [V1])
    config = RulesConfig(
        points={
            "pump-1/vib": PointRules(machine=MachineClass(group=1, foundation=Foundation.FLEXIBLE))
        }
    )
    h = Harness([vib()], config)
    (snap,) = h.engine.predictions()
    assert (snap.boundary_bc, snap.boundary_cd) == (7.1, 11.0)


def test_no_extrapolation_far_beyond_the_history() -> None:
    # A perfect exponential over 6 hours that reaches C/D in about 2 days: R² is 1, but 6 hours
    # of history say nothing about 2 days ahead (max_extrapolation = 2 × the span).
    k = math.log(4.5 / 1.2) / 2  # per day
    h = Harness([vib()], start=T0)
    for i in range(7 * 6):
        h.value(1.2 * math.exp(k * i / 144), dt=600)
        h.tick(0)
    (snap,) = h.engine.predictions()
    assert snap.points >= 5
    assert snap.refused is not None
    assert "days of data" in snap.refused
    assert only(h.events, "prediction.") == []
