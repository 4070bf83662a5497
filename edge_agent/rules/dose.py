"""Exposure arithmetic (hse-standards.md §3 and §4), as plain functions and one sliding window.

Readings at irregular times are held piecewise constant: reading ``i`` holds from ``t_i`` for
``Δt_i = min(t_{i+1} - t_i, max_gap)``; longer gaps are missing time, not zero. The dose is
``D = Σ x_i·Δt_i`` where ``x`` is the concentration for a gas or dust, the relative sound energy
``10^(0.1·L)`` for ISO 9612, or the relative OSHA dose rate ``2^((L - criterion)/exchange)``.

Three readings of a figure with gaps (§3): **zero-filled** (the regulatory one: missing time
counts as zero; it is a lower bound, so exceeding it is certain), **sampled mean** (missing time
at the mean of what was sampled: ``ΣxΔt / ΣΔt``) and **worst case** (missing time at the highest
value seen in the shift). ``coverage = ΣΔt / period``; below 7/8 a figure is uncertain (§3 [T2]).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

HOUR_S = 3600.0
T0_S = 8 * HOUR_S  # hse-standards.md §3 [T1] / §4 [N3]: the 8-h reference duration
LOG10_2 = math.log10(2.0)


def held_segments(
    samples: Sequence[tuple[float, float]], *, max_gap_s: float, end: float
) -> list[tuple[float, float, float]]:
    """``(start, duration, value)`` of each ``(t, value)`` sample held until the next one (or
    ``end``), at most ``max_gap_s`` (hse-standards.md §3)."""
    out = []
    for i, (t, value) in enumerate(samples):
        nxt = samples[i + 1][0] if i + 1 < len(samples) else end
        out.append((t, max(0.0, min(nxt - t, max_gap_s)), value))
    return out


def time_weighted(
    samples: Sequence[tuple[float, float]],
    *,
    max_gap_s: float,
    start: float,
    end: float,
    reference_s: float = T0_S,
) -> tuple[float, float, float, float]:
    """(zero-filled, sampled mean, worst case, coverage) over ``[start, end]`` divided by
    ``reference_s`` (the 8-h TWA: ``D / 8 h``, §3 [T1])."""
    segs = held_segments(samples, max_gap_s=max_gap_s, end=end)
    dose = sum(v * d for _, d, v in segs)
    covered = sum(d for _, d, _ in segs)
    peak = max((v for _, _, v in segs), default=0.0)
    gap = (end - start) - covered
    sampled = dose / covered if covered > 0 else math.nan
    return dose / reference_s, sampled, (dose + gap * peak) / reference_s, covered / (end - start)


def osha_allowed_hours(
    level_db: float, criterion_db: float = 90.0, exchange_db: float = 5.0
) -> float:
    """OSHA reference duration T = 8 / 2^((L - 90)/5) h (29 CFR 1910.95, §4 [N1][N8])."""
    return 8.0 / math.pow(2.0, (level_db - criterion_db) / exchange_db)


def osha_dose_pct(
    segments: Iterable[tuple[float, float]],
    *,
    criterion_db: float = 90.0,
    exchange_db: float = 5.0,
    threshold_db: float = 80.0,
) -> float:
    """D = 100·Σ(C_n / T_n) % over ``(level_db, hours)`` segments; levels below the threshold
    are left out (§4 [N8])."""
    return 100.0 * sum(
        hours / osha_allowed_hours(level, criterion_db, exchange_db)
        for level, hours in segments
        if level >= threshold_db
    )


def osha_twa_db(dose_pct: float, criterion_db: float = 90.0, exchange_db: float = 5.0) -> float:
    """TWA = 16.61·log10(D/100) + 90 (§4 [N8]); 16.61 = 5 / log10(2) for the 5 dB exchange."""
    return criterion_db + exchange_db / LOG10_2 * math.log10(dose_pct / 100.0)


def lex_8h(segments: Iterable[tuple[float, float]]) -> float:
    """LEX,8h = 10·lg[Σ (T_m / T0)·10^(0.1·LAeq,T_m)] over ``(laeq_db, hours)`` (ISO 9612, §4)."""
    energy = sum(hours / 8.0 * 10.0 ** (0.1 * level) for level, hours in segments)
    return 10.0 * math.log10(energy)


def laeq(segments: Iterable[tuple[float, float]]) -> float:
    """LAeq,T = 10·lg[(1/T)·Σ t_i·10^(0.1·L_i)] over ``(level_db, duration)`` segments (§4 [N7])."""
    segs = list(segments)
    total = sum(d for _, d in segs)
    return 10.0 * math.log10(sum(d * 10.0 ** (0.1 * level) for level, d in segs) / total)


class Window:
    """A sliding window over held segments: the integral and covered time of ``[t - length, t]``.

    Segments arrive in time order; old ones are dropped as the window moves and the first one is
    cut at the window's start, so the STEL is evaluated at every sample (§3: a sliding window,
    not fixed blocks).
    """

    __slots__ = ("covered", "integral", "length_s", "pops", "segments")

    def __init__(self, length_s: float) -> None:
        self.length_s = length_s
        self.segments: deque[tuple[float, float, float]] = deque()
        self.integral = 0.0
        self.covered = 0.0
        self.pops = 0

    def add(self, start: float, end: float, x: float) -> None:
        self.segments.append((start, end, x))
        d = end - start
        self.integral += x * d
        self.covered += d

    def at(self, t: float) -> tuple[float, float]:
        """(∫x dt, covered seconds) over ``[t - length, t]``; segments are all before ``t``."""
        lo = t - self.length_s
        segs = self.segments
        while segs and segs[0][1] <= lo:
            start, end, x = segs.popleft()
            d = end - start
            self.integral -= x * d
            self.covered -= d
            self.pops += 1
        if not segs:
            self.integral = self.covered = 0.0  # no drift survives an empty window
            return 0.0, 0.0
        if self.pops >= 4096:  # re-add now and then, so subtraction error cannot build up
            self.pops = 0
            self.integral = sum(x * (e - s) for s, e, x in segs)
            self.covered = sum(e - s for s, e, _ in segs)
        start, _, x = segs[0]
        if start < lo:
            cut = lo - start
            return self.integral - x * cut, self.covered - cut
        return self.integral, self.covered
