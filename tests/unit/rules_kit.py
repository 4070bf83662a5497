"""Builders shared by the rules tests: points, limit sets, readings and a small driver.

Times start at ``T0`` = 2026-01-05T06:00:00Z, the start of a shift under the default shift
config (06:00 / 14:00 / 22:00 UTC, 8 h).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from device_profiles import AlarmDefaults, Limit, LimitSet
from device_profiles.limits import LimitValue, NoiseLimits, NoiseRegime, SubstanceLimits
from edge_agent.records import EventRecord, ReadingRecord
from edge_agent.rules import AlarmAction, RuleEngine, RulePoint, RulesConfig
from protocols.types import Quality

T0 = 1_767_592_800.0  # 2026-01-05T06:00:00Z
H2S = "demo/gd-1/h2s"


def gas_point(
    point_id: str = H2S,
    *,
    quantity: str = "gas.h2s",
    h: float | None = 10.0,
    hh: float | None = 20.0,
    l: float | None = None,  # noqa: E741
    ll: float | None = None,
    hh_latch: bool = True,
    deadband: float = 1.0,
    on_delay_s: float = 0.0,
    off_delay_s: float = 0.0,
    roc: float | None = None,
    interval_s: float = 1.0,
    rng: tuple[float, float] = (0.0, 100.0),
    **extra: Any,
) -> RulePoint:
    alarms = AlarmDefaults(
        h=Limit(value=h, priority="high") if h is not None else None,
        hh=Limit(value=hh, priority="critical", latch=hh_latch) if hh is not None else None,
        l=Limit(value=l, priority="high") if l is not None else None,
        ll=Limit(value=ll, priority="critical") if ll is not None else None,
        roc_per_s=Limit(value=roc, priority="medium") if roc is not None else None,
        deadband=deadband,
        on_delay_s=on_delay_s,
        off_delay_s=off_delay_s,
    )
    return RulePoint(
        point_id=point_id,
        quantity=quantity,
        unit="ppm",
        range=rng,
        alarms=alarms,
        expected_interval_s=interval_s,
        **extra,
    )


def ppm(value: float, source: str = "test") -> LimitValue:
    return LimitValue(value=value, unit="ppm", source=source)


def empty_limit_set(**kw: Any) -> LimitSet:
    return LimitSet(id="none", name="none", jurisdiction="test", molar_volume_l=24.45, **kw)


def h2s_limit_set(
    twa: float | None = 1.0, stel: float | None = 5.0, ceiling: float | None = None
) -> LimitSet:
    """ACGIH H2S: TWA 1 ppm, STEL 5 ppm (hse-standards.md §2.1)."""
    return LimitSet(
        id="acgih-test",
        name="ACGIH (test)",
        jurisdiction="US",
        molar_volume_l=24.45,
        substances={
            "gas.h2s": SubstanceLimits(
                twa=ppm(twa) if twa is not None else None,
                stel=ppm(stel) if stel is not None else None,
                ceiling=ppm(ceiling) if ceiling is not None else None,
            )
        },
    )


def osha_noise_set() -> LimitSet:
    return LimitSet(
        id="osha-test",
        name="OSHA (test)",
        jurisdiction="US",
        molar_volume_l=24.45,
        noise=NoiseLimits(
            regime=NoiseRegime.OSHA,
            criterion_db=90,
            exchange_db=5,
            threshold_db=80,
            action_db=85,
            source="29 CFR 1910.95",
        ),
    )


def iso_noise_set(criterion_db: float = 85.0) -> LimitSet:
    return LimitSet(
        id="iso-test",
        name="ISO 9612 (test)",
        jurisdiction="CN",
        molar_volume_l=24.06,
        noise=NoiseLimits(
            regime=NoiseRegime.ISO_9612,
            criterion_db=criterion_db,
            exchange_db=3,
            source="GBZ 2.2-2007",
        ),
    )


def reading(
    point: RulePoint | str,
    value: float | None,
    t: float,
    *,
    quality: Quality | None = None,
    reason: str | None = None,
    source_ts: float | None = None,
) -> ReadingRecord:
    if isinstance(point, RulePoint):
        pid, quantity, unit = point.point_id, point.quantity, point.unit
    else:
        pid, quantity, unit = point, "gas.h2s", "ppm"
    if quality is None:
        quality = Quality.GOOD if value is not None and reason is None else Quality.BAD
        if value is not None and reason is not None:
            quality = Quality.UNCERTAIN
    return ReadingRecord(
        pid, quantity, unit, value, quality, reason, t if source_ts is None else source_ts, t
    )


class Harness:
    """Drives one engine through time: ``h.value(12)`` is a reading one second later."""

    def __init__(
        self,
        points: Sequence[RulePoint] | None = None,
        config: RulesConfig | None = None,
        limit_set: LimitSet | None = None,
        *,
        start: float = T0,
    ) -> None:
        self.points = list(points) if points is not None else [gas_point()]
        self.engine = RuleEngine(
            self.points,
            config or RulesConfig(),
            limit_set or empty_limit_set(),
            plant_id="demo",
        )
        self.t = start
        self.events: list[EventRecord] = []

    @property
    def point(self) -> RulePoint:
        return self.points[0]

    def _keep(self, events: list[EventRecord]) -> list[EventRecord]:
        self.events.extend(events)
        return events

    def value(
        self,
        v: float | None,
        dt: float = 1.0,
        *,
        point: RulePoint | None = None,
        reason: str | None = None,
        quality: Quality | None = None,
    ) -> list[EventRecord]:
        self.t += dt
        r = reading(point or self.point, v, self.t, reason=reason, quality=quality)
        return self._keep(self.engine.process([r], self.t))

    def values(self, vs: Iterable[float | None], dt: float = 1.0, **kw: Any) -> list[EventRecord]:
        out: list[EventRecord] = []
        for v in vs:
            out += self.value(v, dt, **kw)
        return out

    def tick(self, dt: float = 0.0) -> list[EventRecord]:
        self.t += dt
        return self._keep(self.engine.tick(self.t))

    def act(
        self,
        action: AlarmAction | str,
        alarm: str = "h",
        *,
        actor: str = "op.li",
        reason: str = "",
        until_s: float | None = None,
        dt: float = 0.0,
    ) -> list[EventRecord]:
        self.t += dt
        alarm_id = alarm if ":" in alarm else f"{self.point.point_id}:{alarm}"
        until = self.t + until_s if until_s is not None else None
        return self._keep(
            self.engine.command(
                action, alarm_id=alarm_id, actor=actor, now=self.t, reason=reason, until=until
            )
        )

    def state(self, alarm: str = "h") -> str:
        alarm_id = alarm if ":" in alarm else f"{self.point.point_id}:{alarm}"
        return self.engine.alarm(alarm_id).state

    def base(self, alarm: str = "h") -> str:
        alarm_id = alarm if ":" in alarm else f"{self.point.point_id}:{alarm}"
        return self.engine.alarm(alarm_id).base_state


def kinds(events: Iterable[EventRecord]) -> list[tuple[str, str]]:
    return [(e.kind, e.transition) for e in events]


def only(events: Iterable[EventRecord], prefix: str = "limit.") -> list[EventRecord]:
    """The events whose kind starts with ``prefix`` (ticks after long silences also raise
    ``fault.comm``, which these tests look at elsewhere)."""
    return [e for e in events if e.kind.startswith(prefix)]
