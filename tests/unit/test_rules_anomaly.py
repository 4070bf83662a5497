"""Anomalies from robust running statistics: one event per episode, never one per sample."""

from __future__ import annotations

import random

from edge_agent.rules import AnomalySettings, RulesConfig
from tests.unit.rules_kit import Harness, gas_point, kinds, only


def point() -> object:
    # range 0..10 ppm: the deviation floor is 0.5 % of it, 0.05 ppm
    return gas_point(h=None, hh=None, rng=(0.0, 10.0), interval_s=60)


def noisy(n: int, mean: float = 5.0, sd: float = 0.2, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(n)]


def test_ordinary_noise_is_not_an_anomaly() -> None:
    h = Harness([point()])  # type: ignore[list-item]
    assert only(h.values(noisy(2000)), "anomaly.") == []
    (snap,) = h.engine.anomalies()
    assert snap.samples == 2000
    assert snap.mean is not None
    assert abs(snap.mean - 5.0) < 0.1
    assert snap.scale is not None
    # the EWMA mean absolute deviation of Gaussian noise is about 0.8 σ = 0.16
    assert 0.12 < snap.scale < 0.2


def test_an_excursion_raises_once_and_clears_once() -> None:
    h = Harness([point()])  # type: ignore[list-item]
    h.values(noisy(300))
    # 3 unusual values in a row raise (raise_after = 3); more of them add nothing
    assert only(h.values([8.0, 8.1]), "anomaly.") == []
    events = only(h.value(8.2), "anomaly.")
    assert [(e.transition, e.value, e.category.value) for e in events] == [
        ("raise", 8.2, "anomaly")
    ]
    assert events[0].limit is not None
    assert 5.5 < events[0].limit < 6.5, "the bound crossed: mean + k · deviation"
    assert only(h.values([8.0] * 20), "anomaly.") == []
    assert h.engine.statistics().anomalies_active == 1
    # clear_after = 10 usual values in a row
    back = noisy(10, seed=2)
    assert only(h.values(back[:9]), "anomaly.") == []
    assert kinds(only(h.value(back[9]), "anomaly.")) == [("anomaly.value", "clear")]


def test_unusual_values_do_not_teach_the_baseline() -> None:
    h = Harness([point()])  # type: ignore[list-item]
    h.values(noisy(300))
    before = h.engine.anomalies()[0]
    h.values([9.0] * 50)
    after = h.engine.anomalies()[0]
    assert after.mean == before.mean
    assert after.scale == before.scale


def test_a_lasting_change_is_relearned() -> None:
    config = RulesConfig(anomaly=AnomalySettings(relearn_after_s=600))
    h = Harness([point()], config)  # type: ignore[list-item]
    h.values(noisy(300))
    events = only(h.values(noisy(30, mean=8.0), dt=60), "anomaly.")  # one a minute: 30 min
    assert [e.transition for e in events] == ["raise", "clear"]
    assert "relearned" in events[1].details["reason"]
    assert only(h.values(noisy(300, mean=8.0, seed=3)), "anomaly.") == [], "8 is normal now"


def test_bad_readings_are_not_judged() -> None:
    h = Harness([point()])  # type: ignore[list-item]
    h.values(noisy(300))
    h.values([None] * 5, reason="modbus.timeout")
    assert only(h.events, "anomaly.") == []
    assert h.engine.anomalies()[0].samples == 300


def test_anomaly_checks_can_be_switched_off() -> None:
    h = Harness([point()], RulesConfig(anomaly=AnomalySettings(enabled=False)))  # type: ignore[list-item]
    h.values(noisy(300) + [9.0] * 10)
    assert only(h.events, "anomaly.") == []
    assert h.engine.anomalies() == []
