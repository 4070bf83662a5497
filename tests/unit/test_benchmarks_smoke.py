"""Benchmarks keep working: the quick ones run (as CI's smoke run), the heavy ones at least start.

No figure is asserted (speed is for the benchmarks to report, never for tests to judge); each run
must end with one JSON object carrying the figures its issue names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import python_env

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True, text=True, timeout=timeout_s, env=python_env(), cwd="/",
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "args", "keys"),
    [
        (
            "bench_modbus.py",
            ["--quick"],
            {"points", "planned_points_per_s", "per_point_points_per_s", "speedup"},
        ),
        ("bench_rules.py", ["--quick"], {"rules_readings_per_s"}),
        ("bench_interlock.py", ["--quick"], {"p50_ms", "p99_ms", "rules_readings_per_s"}),
        ("bench_edge_pipeline.py", ["--quick", "--skip-agent"], {"readings_per_s"}),
        # Builds its data set with raw SQL: a schema change it misses fails here, not in a
        # session that wants the figures.
        ("bench_queries.py", ["--quick", "--sqlite-only"], {"sqlite"}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_quick_benchmark_prints_its_figures_as_json(
    script: str, args: list[str], keys: set[str]
) -> None:
    result = run(script, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert keys <= figures.keys()


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("bench_*.py")))
def test_every_benchmark_starts_from_anywhere(script: str) -> None:
    result = run(script, "--help", timeout_s=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--quick" in result.stdout
