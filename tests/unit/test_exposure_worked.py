"""Exposure figures against hand-computed worked examples (hse-standards.md §3, §4, §5).

Every example writes its arithmetic in comments. Readings are one a minute from the start of the
06:00 shift (``T0``); a point polled every 60 s holds each value for at most 2 × 60 s (§3).
"""

from __future__ import annotations

import math
from datetime import time
from typing import Any

import pytest

from device_profiles import Catalog, LimitSet
from device_profiles.limits import (
    LimitValue,
    NoiseLimits,
    NoiseRegime,
    PeakAllowance,
    SubstanceLimits,
)
from edge_agent.records import EventRecord
from edge_agent.rules import ExposureSettings, NoiseSettings, RulePoint, RulesConfig
from edge_agent.rules.dose import (
    laeq,
    lex_8h,
    osha_allowed_hours,
    osha_dose_pct,
    osha_twa_db,
    time_weighted,
)
from tests.unit.rules_kit import (
    T0,
    Harness,
    gas_point,
    h2s_limit_set,
    iso_noise_set,
    only,
    osha_noise_set,
)

MIN = 60.0


def h2s(**kw: Any) -> RulePoint:
    return gas_point(h=None, hh=None, interval_s=60, **kw)


def noise_point() -> RulePoint:
    return RulePoint(
        point_id="demo/nm-1/laeq",
        quantity="noise.laeq",
        unit="dB(A)",
        range=(30, 140),
        expected_interval_s=60,
    )


def run(point: RulePoint, limit_set: LimitSet, minutes: list[float], **kw: Any) -> Harness:
    """A harness fed one reading a minute, the first at T0."""
    h = Harness([point], limit_set=limit_set, start=T0 - MIN, **kw)
    h.values(minutes, dt=MIN)
    return h


def report(h: Harness) -> EventRecord:
    (event,) = [e for e in h.events if e.kind == "exposure.shift"]
    return event


def figure(event: EventRecord, name: str) -> dict[str, Any]:
    (f,) = [f for f in event.details["figures"] if f["name"] == name]
    return f


# -- pure formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "hours"),
    # 29 CFR 1910.95 Table G-16 (§4 [N1]): T = 8 / 2^((L - 90)/5)
    [(90, 8.0), (95, 4.0), (100, 2.0), (105, 1.0), (110, 0.5), (115, 0.25), (85, 16.0)],
)
def test_osha_reference_durations(level: float, hours: float) -> None:
    assert osha_allowed_hours(level) == pytest.approx(hours)


def test_osha_dose_and_twa_worked_example() -> None:
    # 95 dB for 4 h: T(95) = 4 h -> 4/4 = 1.0; 90 dB for 4 h: T(90) = 8 h -> 4/8 = 0.5
    # D = 100 · (1.0 + 0.5) = 150 %
    # TWA = 16.61 · log10(150/100) + 90 = 16.61 · 0.17609 + 90 = 92.92 dB(A)
    dose = osha_dose_pct([(95, 4), (90, 4)])
    assert dose == pytest.approx(150.0)
    assert osha_twa_db(dose) == pytest.approx(92.92, abs=0.005)
    # the action level: 50 % dose is 85 dB(A) (§4 [N2]): 90 + 16.61 · log10(0.5) = 85.0
    assert osha_twa_db(50.0) == pytest.approx(85.0)
    # levels below the 80 dB threshold are left out (§4 [N8])
    assert osha_dose_pct([(79, 8), (95, 4)]) == pytest.approx(100.0)


def test_iso_9612_lex_worked_example() -> None:
    # 2 h at 90, 4 h at 80, 2 h at 70 dB(A):
    # Σ (T_m/8)·10^(0.1·L) = 0.25·1e9 + 0.5·1e8 + 0.25·1e7 = 2.5e8 + 5e7 + 2.5e6 = 3.025e8
    # LEX,8h = 10·lg(3.025e8) = 84.807 dB(A)
    assert lex_8h([(90, 2), (80, 4), (70, 2)]) == pytest.approx(84.807, abs=0.0005)
    # LAeq over the same 8 h is the same number (T = T0)
    assert laeq([(90, 2), (80, 4), (70, 2)]) == pytest.approx(84.807, abs=0.0005)
    # 4 h at 88 dB(A) = 8 h at 85 dB(A) with the 3 dB exchange (GBZ/T 189.8 App. B, §4 [N6])
    assert lex_8h([(88, 4)]) == pytest.approx(85.0, abs=0.02)


def test_time_weighted_with_a_gap() -> None:
    # samples (t in h, ppm): 1 ppm at 0, 1, 2; 3 ppm at 5, 6, 7; max_gap 1 h, period 0..8 h
    # held: 0-1, 1-2, 2-3 at 1 ppm (the 2 h sample holds 1 h, not until 5 h); 5-8 at 3 ppm
    # D = 3·1 + 3·3 = 12 ppm·h; covered 6 h; gap 2 h
    samples = [(h * 3600.0, v) for h, v in [(0, 1), (1, 1), (2, 1), (5, 3), (6, 3), (7, 3)]]
    zero, sampled, worst, coverage = time_weighted(samples, max_gap_s=3600, start=0, end=8 * 3600)
    assert zero == pytest.approx(12 / 8)  # 1.5 ppm
    assert sampled == pytest.approx(12 / 6)  # 2.0 ppm
    assert worst == pytest.approx((12 + 2 * 3) / 8)  # 2.25 ppm
    assert coverage == pytest.approx(6 / 8)


# -- TWA over a shift ---------------------------------------------------------------------------


def test_h2s_shift_twa() -> None:
    # 2 h at 0 ppm, 4 h at 1.5 ppm, 2 h at 0.5 ppm, one reading a minute:
    # D = 2·0 + 4·1.5 + 2·0.5 = 7 ppm·h; TWA = 7 / 8 = 0.875 ppm (limit 1 ppm: not exceeded)
    minutes = [0.0] * 120 + [1.5] * 240 + [0.5] * 120
    h = run(h2s(), h2s_limit_set(), minutes)
    snap = h.engine.exposure()[0]
    twa = snap.figure("twa")
    # as of the last reading (07:59 h) its own minute is not yet held:
    # D = 7 ppm·h - 0.5 ppm · 1 min = 419.5 ppm·min; TWA = 419.5 / 480 = 0.87396 ppm
    assert twa.value == pytest.approx(419.5 / 480)
    assert twa.limit == 1.0
    assert not twa.exceeded
    assert twa.coverage == pytest.approx(479 / 480)
    assert not twa.uncertain  # 479/480 >= 7/8
    assert snap.shift_start == T0
    assert snap.shift_end == T0 + 8 * 3600
    # the reading at 14:00 closes the shift and reports it
    h.value(0.5, dt=MIN)
    event = report(h)
    assert event.ts == T0 + 8 * 3600
    assert event.value == pytest.approx(0.875)
    assert (event.limit, event.point) == (1.0, "demo/gd-1/h2s")
    f = figure(event, "twa")
    assert f["coverage"] == pytest.approx(1.0)
    assert f["uncertain"] is False
    assert f["sampled_mean"] == pytest.approx(0.875)  # full coverage: all three agree
    assert f["worst_case"] == pytest.approx(0.875)
    assert only(h.events, "exposure.twa") == []


def test_twa_exceeded_raises_when_the_dose_passes_8_hours_at_the_limit() -> None:
    # 2 h at 0, 4 h at 2.0, 2 h at 0.5 ppm: D = 8 + 1 = 9 ppm·h -> TWA 1.125 ppm > 1 ppm.
    # The dose reaches 8 ppm·h (= 1 ppm · 8 h) with the 2.0 ppm block: 240 min · 2.0 = 480
    # ppm·min exactly; the next held minute (0.5 ppm) passes it, at the reading at 06:00 + 361 min:
    # D = 480.5 ppm·min -> TWA so far = 480.5 / 480 = 1.00104 ppm
    minutes = [0.0] * 120 + [2.0] * 240 + [0.5] * 120
    h = run(h2s(), h2s_limit_set(), minutes)
    (raised,) = only(h.events, "exposure.twa")
    assert (raised.transition, raised.ts) == ("raise", T0 + 361 * MIN)
    assert raised.value == pytest.approx(480.5 / 480)
    assert raised.category.value == "exposure"
    # at the end of the shift the TWA alarm clears and the report says 1.125 ppm
    h.value(0.5, dt=MIN)
    assert [e.transition for e in only(h.events, "exposure.twa")] == ["raise", "clear"]
    assert report(h).value == pytest.approx(1.125)


def test_a_value_holds_at_most_two_poll_intervals() -> None:
    # §3: Δt = min(t_next - t, max_gap), max_gap = 2 × 60 s. 4 ppm at 06:00, next at 06:10:
    # held 120 s, not 600 s -> D = 4 · 120 = 480 ppm·s; TWA = 480 / 28800 = 0.016667 ppm
    h = Harness([h2s()], limit_set=h2s_limit_set(), start=T0)
    h.value(4.0, dt=0)
    h.value(0.0, dt=600)
    twa = h.engine.exposure()[0].figure("twa")
    assert twa.value == pytest.approx(480 / 28800)
    assert twa.sampled_mean == pytest.approx(4.0)
    assert twa.coverage == pytest.approx(120 / 28800)
    # worst case: the 480 s gap of the 600 s so far at the highest value (4 ppm):
    # (480 + 480 · 4) / 28800 = 0.083333 ppm
    assert twa.worst_case == pytest.approx((480 + 480 * 4) / 28800)


def test_gaps_are_missing_not_zero() -> None:
    # 3 h at 1 ppm; the device stops answering at 09:00 (a BAD reading ends the held value);
    # nothing until 11:00; 3 h at 3 ppm to 14:00.
    #   zero-filled (regulatory) = (3·1 + 3·3) / 8 = 12 / 8 = 1.5 ppm
    #   sampled mean             = 12 / 6 = 2.0 ppm
    #   worst case (gap at max)  = (12 + 2 h · 3 ppm) / 8 = 18 / 8 = 2.25 ppm
    #   coverage                 = 6 h / 8 h = 0.75 < 7/8 -> uncertain
    h = Harness([h2s()], limit_set=h2s_limit_set(twa=2.0), start=T0 - MIN)
    h.values([1.0] * 180, dt=MIN)
    h.value(None, dt=MIN, reason="modbus.timeout")  # 09:00
    h.value(3.0, dt=120 * MIN)  # 11:00
    stel = h.engine.exposure()[0].figure("stel")
    assert (stel.coverage, stel.uncertain) == (0.0, True), "nothing sampled in the last 15 min"
    h.values([3.0] * 180, dt=MIN)  # 11:01 .. 14:00
    f = figure(report(h), "twa")
    assert f["value"] == pytest.approx(1.5)
    assert f["sampled_mean"] == pytest.approx(2.0)
    assert f["worst_case"] == pytest.approx(2.25)
    assert f["coverage"] == pytest.approx(0.75)
    assert f["uncertain"] is True
    # TWA limit 2 ppm: the zero-filled 1.5 is a lower bound; no alarm on it
    assert f["exceeded"] is False


# -- STEL ---------------------------------------------------------------------------------------


def test_stel_is_a_sliding_15_minute_window_evaluated_at_every_sample() -> None:
    # 0 ppm for minutes 0-9, 12 ppm from minute 10 (STEL limit 5 ppm).
    # At minute 15: window [0, 15] holds minutes 10-14 at 12 ppm -> 5·12 / 15 = 4.0 ppm
    # At minute 16: minutes 10-15 -> 6·12 / 15 = 4.8 ppm
    # At minute 17: minutes 10-16 -> 7·12 / 15 = 5.6 ppm > 5 -> exposure.stel raise
    h = Harness([h2s()], limit_set=h2s_limit_set(), start=T0 - MIN)
    h.values([0.0] * 10 + [12.0] * 6, dt=MIN)  # minutes 0 .. 15
    assert h.engine.exposure()[0].figure("stel").value == pytest.approx(4.0)
    h.value(12.0, dt=MIN)  # minute 16
    assert h.engine.exposure()[0].figure("stel").value == pytest.approx(4.8)
    assert only(h.events, "exposure.stel") == []
    (raised,) = only(h.value(12.0, dt=MIN), "exposure.stel")  # minute 17
    assert (raised.transition, raised.ts) == ("raise", T0 + 17 * MIN)
    assert raised.value == pytest.approx(5.6)
    assert raised.limit == 5.0
    stel = h.engine.exposure()[0].figure("stel")
    assert (stel.coverage, stel.uncertain, stel.exceeded) == (1.0, False, True)
    # 12 ppm until minute 19, then 0: at minute 28 the window [13, 28] holds minutes 13-19
    # (7·12/15 = 5.6); at minute 29, [14, 29] holds 14-19 -> 6·12/15 = 4.8 -> clear
    h.values([12.0] * 2 + [0.0] * 10, dt=MIN)  # minutes 18 .. 29
    (cleared,) = only(h.events, "exposure.stel")[1:]
    assert (cleared.transition, cleared.ts) == ("clear", T0 + 29 * MIN)
    assert cleared.value == pytest.approx(4.8)
    snap = h.engine.exposure()[0]
    assert snap.stel_excursions == 1  # ACGIH: at most 4 a day, 60 min apart (§3 [T8])


def excursion(gap_min: int) -> list[float]:
    """12 ppm for 8 min (the STEL, limit 5 ppm, rises above it at the 7th: 7·12/15 = 5.6), then
    0 ppm for ``gap_min`` min (the window empties of 12s 15 min after the last one)."""
    return [12.0] * 8 + [0.0] * gap_min


def test_stel_excursions_closer_than_60_minutes_break_the_acgih_rule() -> None:
    # Excursions start at minutes 7 and 7 + 28 = 35: 28 min apart < 60 (§3 [T8]).
    h = Harness([h2s()], limit_set=h2s_limit_set(twa=None), start=T0 - MIN)
    h.values(excursion(20), dt=MIN)
    assert only(h.events, "exposure.stel_excursions") == []
    (raised,) = only(h.values(excursion(20), dt=MIN), "exposure.stel_excursions")
    assert (raised.transition, raised.ts, raised.value, raised.limit) == (
        "raise",
        T0 + (28 + 7) * MIN,
        2.0,
        4.0,
    )
    assert raised.priority is not None
    assert raised.priority.value == "medium"
    # It holds for the rest of the shift and clears when the shift ends (14:00).
    h.values(excursion(20), dt=MIN)
    assert len(only(h.events, "exposure.stel_excursions")) == 1
    h.values([0.0] * (8 * 60 - 3 * 28 + 1), dt=MIN)  # the last one at 14:00
    (cleared,) = only(h.events, "exposure.stel_excursions")[1:]
    assert (cleared.transition, cleared.value) == ("clear", 3.0)
    assert h.engine.exposure()[0].stel_excursions == 0  # the new shift's count


def test_a_fifth_stel_excursion_in_a_shift_breaks_the_acgih_rule() -> None:
    # Five excursions 70 min apart (>= 60): the first four are within the rule, the fifth not.
    h = Harness([h2s()], limit_set=h2s_limit_set(twa=None), start=T0 - MIN)
    for _ in range(4):
        h.values(excursion(62), dt=MIN)
    assert h.engine.exposure()[0].stel_excursions == 4
    assert only(h.events, "exposure.stel_excursions") == []
    (raised,) = only(h.values(excursion(62), dt=MIN), "exposure.stel_excursions")
    assert (raised.transition, raised.value) == ("raise", 5.0)


def test_the_excursion_rule_can_be_switched_off() -> None:
    settings = ExposureSettings(stel_excursions_per_shift=None)
    h = Harness([h2s()], limit_set=h2s_limit_set(twa=None), start=T0 - MIN,
                config=RulesConfig(exposure=settings))  # fmt: skip
    for _ in range(6):
        h.values(excursion(20), dt=MIN)
    assert h.engine.exposure()[0].stel_excursions == 6
    assert only(h.events, "exposure.stel_excursions") == []


def osha_h2s() -> LimitSet:
    """OSHA H2S: ceiling 20 ppm, a peak up to 50 ppm for at most 10 min once a shift (§2.1)."""
    return LimitSet(
        id="osha-test", name="OSHA (test)", jurisdiction="US", molar_volume_l=24.45,
        substances={"gas.h2s": SubstanceLimits(
            ceiling=LimitValue(value=20, unit="ppm", source="Table Z-2"),
            peak=PeakAllowance(value=50, unit="ppm", max_minutes=10, per_shift=1,
                               source="Table Z-2"))},
    )  # fmt: skip


def test_one_peak_within_the_osha_allowance_is_not_a_ceiling_breach() -> None:
    # 30 ppm for 8 min (above the 20 ppm ceiling, under 50, shorter than 10 min): exposure.peak
    # raises and clears; the ceiling alarm stays quiet.
    h = Harness([h2s()], limit_set=osha_h2s(), start=T0 - MIN)
    h.values([5.0] + [30.0] * 8 + [5.0], dt=MIN)
    assert [(e.kind, e.transition) for e in only(h.events, "exposure.")] == [
        ("exposure.peak", "raise"),
        ("exposure.peak", "clear"),
    ]
    # A second peak in the same shift breaks the allowance at once (once a shift).
    (breach,) = only(h.value(25.0, dt=MIN), "exposure.ceiling")
    assert (breach.transition, breach.value, breach.limit) == ("raise", 25.0, 20.0)


def test_a_peak_longer_than_10_minutes_or_above_50_ppm_breaks_the_ceiling() -> None:
    # 30 ppm from minute 1: the peak starts at T0 + 1 min; at minute 11 it has lasted 10 min
    # (allowed), at minute 12 it has lasted 11 min > 10 -> exposure.ceiling.
    h = Harness([h2s()], limit_set=osha_h2s(), start=T0 - MIN)
    h.values([5.0] + [30.0] * 11, dt=MIN)  # minutes 0 .. 11
    assert only(h.events, "exposure.ceiling") == []
    (breach,) = only(h.value(30.0, dt=MIN), "exposure.ceiling")
    assert breach.ts == T0 + 12 * MIN
    # In the next shift (from 14:00) the allowance is whole again, but 55 ppm is never allowed.
    later = Harness([h2s()], limit_set=osha_h2s(), start=T0 - MIN)
    (at_once,) = only(later.value(55.0, dt=MIN), "exposure.ceiling")
    assert at_once.value == 55.0
    h.values([5.0] * (8 * 60 - 13 + 1), dt=MIN)  # back down, on to 14:00
    assert only(h.value(30.0, dt=MIN), "exposure.ceiling") == []  # the new shift's one peak


def test_ceiling_against_a_china_mac_in_mg_m3() -> None:
    # GBZ 2.1-2019: H2S MAC 10 mg/m³; at 20 °C (24.06 L/mol, §2.3):
    # 10 · 24.06 / 34.08 = 7.0599 ppm
    cn = LimitSet(
        id="cn-test",
        name="GBZ (test)",
        jurisdiction="CN",
        molar_volume_l=24.06,
        substances={
            "gas.h2s": SubstanceLimits(
                ceiling=LimitValue(value=10, unit="mg/m³", source="GBZ 2.1-2019")
            )
        },
    )
    h = Harness([h2s()], limit_set=cn)
    assert only(h.value(7.05), "exposure.") == []
    (raised,) = only(h.value(7.07), "exposure.")
    assert raised.kind == "exposure.ceiling"
    assert raised.limit == pytest.approx(10 * 24.06 / 34.08)
    assert raised.priority is not None
    assert raised.priority.value == "critical"
    (cleared,) = only(h.value(7.0), "exposure.")
    assert cleared.transition == "clear"


def test_dust_twa_against_a_limit_in_another_unit() -> None:
    # Total dust TWA 8 mg/m³ (GBZ 2-2002 "other dust", §5 [D6]) written as 8000 µg/m³.
    # 10 mg/m³ all shift: the dose passes 8 mg/m³ · 8 h = 3840 mg·min/m³ when 385 minutes
    # are held (3850): TWA so far = 3850 / 480 = 8.0208 mg/m³
    dust = LimitSet(
        id="dust-test",
        name="dust",
        jurisdiction="CN",
        molar_volume_l=24.06,
        substances={
            "dust.total": SubstanceLimits(
                twa=LimitValue(value=8000, unit="µg/m³", source="GBZ 2-2002")
            )
        },
    )
    point = RulePoint(
        point_id="demo/dm-1/total",
        quantity="dust.total",
        unit="mg/m³",
        range=(0, 100),
        expected_interval_s=60,
    )
    h = run(point, dust, [10.0] * 480)
    (raised,) = only(h.events, "exposure.twa")
    assert raised.ts == T0 + 385 * MIN
    assert raised.limit == pytest.approx(8.0)
    assert raised.value == pytest.approx(3850 / 480)


# -- projection ---------------------------------------------------------------------------------


def test_projection_warns_before_the_twa_is_exceeded() -> None:
    # 4 h at 0.8 ppm, then 2.0 ppm from 10:00. At 10:15 (TWA limit 1 ppm):
    #   D so far = 240 min · 0.8 + 15 min · 2.0 = 192 + 30 = 222 ppm·min
    #   recent mean (last 15 min) = 2.0 ppm; rest of the shift = 14:00 - 10:15 = 225 min
    #   projected D = 222 + 2.0 · 225 = 672 ppm·min -> projected TWA = 672 / 480 = 1.4 ppm > 1
    h = Harness([h2s()], limit_set=h2s_limit_set(stel=None), start=T0 - MIN)
    h.values([0.8] * 240 + [2.0] * 16, dt=MIN)  # readings 06:00 .. 10:15
    assert only(h.events, "exposure.") == []
    (warning,) = only(h.tick(0), "exposure.")
    assert (warning.kind, warning.transition) == ("exposure.twa_projection", "raise")
    assert warning.value == pytest.approx(1.4)
    assert warning.limit == 1.0
    assert warning.priority is not None
    assert warning.priority.value == "low"
    assert h.engine.exposure()[0].projected == pytest.approx(1.4)
    # back to 0 ppm for 15 min: at 10:30, D = 192 + 16·2.0 + 14·0 = 224 ppm·min; the last
    # 15 min hold one minute at 2.0 -> recent mean 2/15; projected D = 224 + 2/15 · 210 = 252
    # -> 0.525 ppm: the warning clears at the next projection
    h.values([0.0] * 15, dt=MIN)
    (cleared,) = only(h.tick(0), "exposure.")
    assert cleared.transition == "clear"
    assert cleared.value == pytest.approx(252 / 480)


def test_no_projection_warning_at_a_steady_low_level() -> None:
    h = Harness([h2s()], limit_set=h2s_limit_set(stel=None), start=T0 - MIN)
    h.values([0.8] * 256, dt=MIN)
    assert only(h.tick(1), "exposure.") == []
    assert h.engine.exposure()[0].projected == pytest.approx(0.8)


# -- noise --------------------------------------------------------------------------------------


def test_osha_noise_dose_over_a_shift() -> None:
    # 95 dB(A) for 4 h then 90 dB(A) for 4 h: dose 150 %, TWA 92.92 dB(A) (worked above)
    h = run(noise_point(), osha_noise_set(), [95.0] * 240 + [90.0] * 240 + [90.0])
    event = report(h)
    assert figure(event, "noise_dose_pct")["value"] == pytest.approx(150.0)
    assert figure(event, "osha_twa_db")["value"] == pytest.approx(92.92, abs=0.005)
    assert event.value == pytest.approx(92.92, abs=0.005)
    # the action level (85 dB(A) = 50 %) is passed after 2 h at 95 dB(A) (25 %/h): the held
    # minute after 2 h makes 50.417 % -> 90 + 16.61·log10(0.50417) = 85.06 dB(A)
    (action, action_clear) = only(h.events, "exposure.noise_action")
    assert action.ts == T0 + 121 * MIN
    assert action.value == pytest.approx(90 + 5 / math.log10(2) * math.log10(0.504167), abs=1e-3)
    # the PEL (100 %) is reached at exactly 4 h and passed by the first 90 dB minute:
    # D = 100 + 100·(1/60)/8 = 100.208 % -> 90 + 16.61·log10(1.00208) = 90.015 dB(A)
    (pel, pel_clear) = only(h.events, "exposure.noise_dose")
    assert pel.ts == T0 + 241 * MIN
    assert pel.value == pytest.approx(90 + 5 / math.log10(2) * math.log10(1 + 1 / 480), abs=1e-4)
    assert (pel.limit, action.limit) == (90.0, 85.0)
    assert pel_clear.transition == action_clear.transition == "clear"  # at the end of the shift


def test_eu_lower_and_upper_action_values_and_the_limit_value() -> None:
    # EU 2003/10/EC: lower action 80, upper action 85, limit 87 dB(A) as LEX,8h (§4 [N4]).
    # A steady 88 dB(A) from 06:00: after k minutes LEX,8h = 88 + 10·lg(k / 480), which passes
    #   80 when k > 480·10^-0.8 = 76.07 -> at the reading of minute 77,
    #   85 when k > 480·10^-0.3 = 240.57 -> minute 241,
    #   87 when k > 480·10^-0.1 = 381.28 -> minute 382.
    eu = Catalog().limit_set("eu-2003-10-ec")
    h = run(noise_point(), eu, [88.0] * 400)
    raised = {e.kind: e for e in h.events if e.kind.startswith("exposure.noise") and e.transition == "raise"}  # fmt: skip
    lower = raised["exposure.noise_action"]
    upper = raised["exposure.noise_upper_action"]
    limit = raised["exposure.noise_dose"]
    assert (lower.ts, lower.limit) == (T0 + 77 * MIN, 80.0)
    assert (upper.ts, upper.limit) == (T0 + 241 * MIN, 85.0)
    assert (limit.ts, limit.limit) == (T0 + 382 * MIN, 87.0)
    assert upper.value == pytest.approx(88 + 10 * math.log10(241 / 480))
    assert upper.priority is not None
    assert upper.priority.value == "medium"


def test_iso_9612_lex_over_a_shift() -> None:
    # 2 h at 90, 4 h at 80, 2 h at 70 dB(A): LEX,8h = 84.807 dB(A) (worked above), under 85;
    # dose = 100 · 3.025e8 / 10^8.5 = 95.66 %
    minutes = [90.0] * 120 + [80.0] * 240 + [70.0] * 120 + [70.0]
    h = run(noise_point(), iso_noise_set(85), minutes)
    event = report(h)
    assert figure(event, "lex_8h")["value"] == pytest.approx(84.807, abs=0.0005)
    assert figure(event, "noise_dose_pct")["value"] == pytest.approx(
        100 * 3.025e8 / 10**8.5, rel=1e-6
    )
    assert only(h.events, "exposure.noise") == []


def test_config_can_choose_the_noise_regime() -> None:
    # The limit set is OSHA; the plant config asks for ISO 9612 (defaults 85 dB(A), 3 dB).
    config = RulesConfig(
        exposure=ExposureSettings(noise=NoiseSettings(regime=NoiseRegime.ISO_9612))
    )
    h = Harness([noise_point()], config, osha_noise_set(), start=T0 - MIN)
    h.values([88.0] * 241, dt=MIN)
    lex = h.engine.exposure()[0].figure("lex_8h")
    # 4 h at 88 dB(A): LEX,8h = 88 + 10·lg(4/8) = 84.99 dB(A)
    assert lex.value == pytest.approx(88 + 10 * math.log10(0.5), abs=1e-6)
    assert lex.limit == 85.0


def test_peak_level_against_the_impulse_ceiling() -> None:
    # OSHA: impulsive noise should not exceed 140 dB peak (§4 [N2]); a dB(C) peak point gets a
    # ceiling alarm and no averages (an average of peaks means nothing).
    limits = LimitSet(
        id="osha-peak",
        name="OSHA (test)",
        jurisdiction="US",
        molar_volume_l=24.45,
        noise=NoiseLimits(
            regime=NoiseRegime.OSHA,
            criterion_db=90,
            exchange_db=5,
            threshold_db=80,
            peak_db_c=140,
            source="29 CFR 1910.95",
        ),
    )
    peak = RulePoint(
        point_id="demo/nm-1/peak",
        quantity="noise.lcpeak",
        unit="dB(C)",
        range=(60, 150),
        expected_interval_s=60,
    )
    h = run(peak, limits, [120.0] * 10 + [141.0] + [120.0] * 470 + [120.0])
    assert [(e.kind, e.transition) for e in only(h.events, "exposure.")] == [
        ("exposure.ceiling", "raise"),
        ("exposure.ceiling", "clear"),
    ]
    snap = h.engine.exposure()[0]
    assert snap.figures == ()
    assert (snap.ceiling, snap.max_value) == (140.0, 120.0)  # the new shift's max so far


def test_exposure_alarms_are_isa_alarms_too() -> None:
    # A ceiling alarm can be acknowledged and shelved like any alarm; shelving expires in tick.
    h = Harness([h2s()], limit_set=h2s_limit_set(ceiling=20.0), start=T0)
    h.value(25.0)
    h.act("ack", "ceiling")
    h.act("shelve", "ceiling", reason="gas test in progress", until_s=120)
    assert h.engine.alarm("demo/gd-1/h2s:ceiling").state == "shelved"
    (unshelved,) = only(h.tick(120), "exposure.")
    assert (unshelved.transition, unshelved.state) == ("unshelve", "active_acked")


def test_a_long_shift_also_reports_its_worst_8_hours() -> None:
    # One 10-h shift from 06:00. 2 h at 1 ppm, then 8 h at 2 ppm:
    #   D = 2·1 + 8·2 = 18 ppm·h; TWA = D / 8 h = 2.25 ppm (OSHA: the PEL is not adjusted)
    #   worst 8 h = the last 8 h at 2 ppm -> 16 / 8 = 2.0 ppm (§3 [T2][T3])
    from edge_agent.rules import ShiftConfig

    config = RulesConfig(shift=ShiftConfig(starts=[time(6)], length_h=10))
    h = Harness([h2s()], config, h2s_limit_set(twa=3.0, stel=None), start=T0 - MIN)
    h.values([1.0] * 120 + [2.0] * 480 + [2.0], dt=MIN)
    event = report(h)
    assert figure(event, "twa")["value"] == pytest.approx(2.25)
    worst = figure(event, "twa_worst_8h")
    assert worst["value"] == pytest.approx(2.0)
    assert worst["coverage"] == pytest.approx(1.0)
    assert worst["sampled_mean"] == pytest.approx(2.0)
    # an 8-h shift has no separate worst-8-h figure
    h8 = run(h2s(), h2s_limit_set(), [1.0] * 10)
    assert [f.name for f in h8.engine.exposure()[0].figures] == ["stel", "twa"]
