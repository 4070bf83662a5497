"""Benchmark: readings per second through the rules engine's hot path on one core.

1,000 points (gas with limit alarms and exposure against a limit set, pressure with limit and
rate-of-change alarms, noise with an OSHA dose, vibration with trend downsampling), every one
also under anomaly checks. Values are realistic: mostly inside the normal band with noise, a
few points ramping through their alarm limits so alarms raise and clear during the run.

The raw ceiling is a bare Python loop over the same readings doing one comparison each,
measured in the same run; the result is reported as a ratio to it.

    python tests/benchmarks/bench_rules.py [--quick]

Prints one JSON object as its last line: ``rules_readings_per_s`` and the parameters.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from device_profiles import AlarmDefaults, Limit, LimitSet
from device_profiles.limits import LimitValue, NoiseLimits, NoiseRegime, SubstanceLimits
from edge_agent.records import ReadingRecord
from edge_agent.rules import RuleEngine, RulePoint, RulesConfig
from protocols.types import Quality

T0 = 1_767_254_400.0  # 2026-01-01T08:00:00Z, inside a shift


def limit_set() -> LimitSet:
    def lv(value: float) -> LimitValue:
        return LimitValue(value=value, unit="ppm", source="bench")

    return LimitSet(
        id="bench",
        name="bench",
        jurisdiction="bench",
        molar_volume_l=24.45,
        substances={
            "gas.h2s": SubstanceLimits(twa=lv(1), stel=lv(5), ceiling=lv(20)),
            "gas.co": SubstanceLimits(twa=lv(25), stel=lv(100)),
        },
        noise=NoiseLimits(
            regime=NoiseRegime.OSHA, criterion_db=90, exchange_db=5, threshold_db=80, source="b"
        ),
    )


def make_points(n: int) -> list[tuple[RulePoint, float, float]]:
    """(point, base value, noise) for n points in a realistic mix."""
    out = []
    for i in range(n):
        kind = i % 10
        pid = f"bench/dev-{i // 4}/p{i}"
        if kind < 4:
            alarms = AlarmDefaults(h=Limit(value=7), hh=Limit(value=14, latch=True), deadband=0.5)
            out.append((RulePoint(point_id=pid, quantity="gas.h2s", unit="ppm", range=(0, 100),
                                  alarms=alarms), 0.3, 0.05))  # fmt: skip
        elif kind < 6:
            alarms = AlarmDefaults(h=Limit(value=35), hh=Limit(value=70), deadband=2)
            out.append((RulePoint(point_id=pid, quantity="gas.co", unit="ppm", range=(0, 500),
                                  alarms=alarms), 3.0, 0.5))  # fmt: skip
        elif kind < 8:
            alarms = AlarmDefaults(
                l=Limit(value=100), h=Limit(value=900), hh=Limit(value=950),
                roc_per_s=Limit(value=50), deadband=5, on_delay_s=2,
            )  # fmt: skip
            out.append((RulePoint(point_id=pid, quantity="pressure", unit="kPa", range=(0, 1000),
                                  alarms=alarms), 500.0, 3.0))  # fmt: skip
        elif kind == 8:
            out.append((RulePoint(point_id=pid, quantity="noise.laeq", unit="dB(A)",
                                  range=(30, 140)), 82.0, 2.0))  # fmt: skip
        else:
            alarms = AlarmDefaults(h=Limit(value=4.5))
            out.append((RulePoint(point_id=pid, quantity="vibration.velocity_rms", unit="mm/s",
                                  range=(0, 50), alarms=alarms), 1.5, 0.1))  # fmt: skip
    return out


def make_rounds(
    points: list[tuple[RulePoint, float, float]], rounds: int
) -> list[list[ReadingRecord]]:
    rng = random.Random(7)
    ramping = set(range(0, len(points), 50))  # 2 % of points swing through their limits
    out = []
    for r in range(rounds):
        t = T0 + r
        batch = []
        for i, (p, base, noise) in enumerate(points):
            v = base + rng.gauss(0, noise)
            if i in ramping and p.alarms is not None and p.alarms.h is not None:
                # a slow sine from the base to 1.3x the H limit and back (period 120 s)
                swing = (p.alarms.h.value * 1.3 - base) * (
                    0.5 - 0.5 * math.cos(2 * math.pi * r / 120)
                )
                v = base + swing
            batch.append(ReadingRecord(p.point_id, p.quantity, p.unit, v, Quality.GOOD, None, t, t))
        out.append(batch)
    return out


def run_engine(
    points: list[tuple[RulePoint, float, float]], rounds: list[list[ReadingRecord]]
) -> tuple[float, int, RuleEngine]:
    engine = RuleEngine([p for p, _, _ in points], RulesConfig(), limit_set(), plant_id="bench")
    events = 0
    gc.collect()
    start = time.perf_counter()
    for batch in rounds:
        events += len(engine.process(batch, batch[0].received_ts))
    elapsed = time.perf_counter() - start
    return elapsed, events, engine


def time_ticks(engine: RuleEngine, now: float, n: int) -> float:
    """Median ms of ``tick`` over n successive seconds (the first one also projects exposure)."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        engine.tick(now + i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run_ceiling(rounds: list[list[ReadingRecord]]) -> float:
    start = time.perf_counter()
    n = 0
    for batch in rounds:
        for r in batch:
            if r.value > 7.0:  # type: ignore[operator]
                n += 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run under 60 s")
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    n_rounds = 60 if args.quick else 300
    repeats = 3 if args.quick else 5
    points = make_points(args.points)
    rounds = make_rounds(points, n_rounds)
    total = args.points * n_rounds
    run_engine(points, rounds[: max(5, n_rounds // 10)])  # warm-up
    rates, ceilings, ticks, events = [], [], [], 0
    for _ in range(repeats):
        elapsed, events, engine = run_engine(points, rounds)
        rates.append(total / elapsed)
        ceilings.append(total / run_ceiling(rounds))
        ticks.append(time_ticks(engine, rounds[-1][0].received_ts, 20))
    rate = statistics.median(rates)
    ceiling = statistics.median(ceilings)
    print(
        json.dumps(
            {
                "rules_readings_per_s": round(rate),
                "target_readings_per_s": 100_000,
                "raw_ceiling_readings_per_s": round(ceiling),
                "ratio_to_ceiling": round(rate / ceiling, 4),
                "tick_ms_median": round(statistics.median(ticks), 3),
                "points": args.points,
                "rounds": n_rounds,
                "readings_per_run": total,
                "repeats": repeats,
                "events_per_run": events,
                "mode": "quick" if args.quick else "full",
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
