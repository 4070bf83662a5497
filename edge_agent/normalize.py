"""Normalization and quality: a driver's Sample becomes a ReadingRecord in canonical units.

The steps, in order, for each point (one ``PointChannel`` per point, holding its state):

1. a BAD sample from the driver stays BAD, with the driver's reason and no value;
2. a current-loop point is checked against NAMUR NE 43 (hse-standards.md §8.2 [Q7]): at or
   below 3.6 mA or at or above 21.0 mA is a failure (UNCERTAIN while it persists less than 4 s,
   then BAD; never a value), the transition bands are UNCERTAIN, and a valid current maps linearly
   onto the measuring range (3.8-4.0 mA saturates at the range's low end);
3. the value is converted to the quantity's canonical unit;
4. out of the measuring range: UNCERTAIN ``range.under`` / ``range.over``, the value kept
   (OPC UA UncertainEngineeringUnitsExceeded, §8.1);
5. flatline: a point that has moved before and then repeats the exact same value for
   ``flatline_samples`` polls is UNCERTAIN ``flatline`` (a stuck sensor must not look live, §8.3);
   a value pinned at a range end is saturation, not a flatline;
6. spike: ``|x - m| > k * d`` with ``m``/``d`` an exponentially weighted mean and mean absolute
   deviation that spikes do not update (§8.3, k = 5) flags UNCERTAIN ``spike`` for at most two
   samples (a longer excursion is a real change of level and re-seeds the statistics); the value is kept
   and still evaluated by alarms, whose on-delay is what suppresses a one-sample spike;
7. a source timestamp far in the future or before the device was installed (or 2000) is
   implausible (ARCHITECTURE.md §4): the reading is UNCERTAIN ``timestamp.implausible`` and carries
   the receive time instead, so central never stores a 1970 reading as if it were real.

Nothing here reads a clock: the sample carries its times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from device_profiles import ResolvedPoint
from protocols.types import Quality, Sample

from .config import QualityConfig
from .records import ReadingRecord

# Status words, relay states and counters hold still for hours by design: not a stuck sensor.
NON_SIGNAL_QUANTITIES = frozenset({"status", "runtime", "info"})
TEXT_QUANTITIES = frozenset({"info"})  # serial numbers and the like: metadata, not readings
EPOCH_FLOOR = 946_684_800.0  # 2000-01-01T00:00:00Z: no reading of this platform is older
EWMA_ALPHA = 0.1
SPIKE_MAX_SAMPLES = 2  # a spike lasts 1-2 samples (hse-standards.md §8.3); longer is a level change
_GOOD = Quality.GOOD
_UNCERTAIN = Quality.UNCERTAIN
_BAD = Quality.BAD


@dataclass(slots=True)
class PointChannel:
    """The state and settings of one point through normalization and quality checks."""

    point_id: str
    quantity: str
    unit: str
    factor: float
    offset: float
    low: float | None  # measuring range, canonical unit
    high: float | None
    resolution: float
    loop: tuple[float, float, float, float, float, float, float] | None  # see _loop_tuple
    raw_low: float  # range in the device's unit, for the loop mapping
    raw_high: float
    installed_ts: float
    flatline_samples: int
    spike_k: float
    max_future_skew_s: float
    signal_checks: bool = True  # flatline and spike: for measurements, not status words or flags
    # state
    last_value: float | None = None
    repeat_count: int = 0
    has_moved: bool = False
    ewma: float | None = None
    ewmad: float = 0.0
    loop_fault_since: float | None = None
    spike_run: int = 0

    @classmethod
    def for_point(
        cls,
        point_id: str,
        point: ResolvedPoint,
        quality: QualityConfig,
        installed_ts: float | None = None,
    ) -> PointChannel:
        factor, offset = point.to_canonical
        low = high = None
        raw_low, raw_high = point.range if point.range else (0.0, 1.0)
        if point.range is not None:
            low, high = sorted((point.range[0] * factor + offset, point.range[1] * factor + offset))
        resolution = (point.resolution or 0.0) * abs(factor)
        loop = None
        if point.loop is not None:
            lp = point.loop
            loop = (
                lp.low_ma,
                lp.high_ma,
                lp.fault_low_ma,
                lp.fault_high_ma,
                lp.valid_low_ma,
                lp.valid_high_ma,
                lp.fault_persist_s,
            )
        return cls(
            point_id=point_id,
            quantity=point.quantity,
            unit=point.canonical_unit,
            factor=factor,
            offset=offset,
            low=low,
            high=high,
            resolution=resolution,
            loop=loop,
            raw_low=raw_low,
            raw_high=raw_high,
            installed_ts=max(installed_ts or 0.0, EPOCH_FLOOR),
            flatline_samples=quality.flatline_samples,
            spike_k=quality.spike_k,
            max_future_skew_s=quality.max_future_skew_s,
            signal_checks=point.quantity not in NON_SIGNAL_QUANTITIES,
        )

    def process(self, sample: Sample) -> ReadingRecord:
        received = sample.received_ts
        source = sample.source_ts if sample.source_ts is not None else received
        reason: str | None = None
        quality = sample.quality
        if source > received + self.max_future_skew_s or source < self.installed_ts:
            source, quality, reason = received, _UNCERTAIN, "timestamp.implausible"
        raw = sample.value
        if sample.quality is _BAD or raw is None or isinstance(raw, str):
            return ReadingRecord(
                self.point_id, self.quantity, self.unit, None, _BAD,
                sample.reason or ("decode.not_numeric" if isinstance(raw, str) else "driver.bad"),
                source, received,
            )  # fmt: skip
        value = float(raw)
        if sample.quality is _UNCERTAIN:
            reason = sample.reason or "driver.uncertain"
        if self.loop is not None:
            mapped, loop_quality, loop_reason = self._loop(value, received)
            if mapped is None:
                return ReadingRecord(
                    self.point_id,
                    self.quantity,
                    self.unit,
                    None,
                    loop_quality,
                    loop_reason,
                    source,
                    received,
                )
            value = mapped
            if loop_quality is not _GOOD:
                quality, reason = loop_quality, loop_reason
        if not math.isfinite(value):
            return ReadingRecord(
                self.point_id, self.quantity, self.unit, None, _BAD, "decode.nan", source, received
            )
        value = value * self.factor + self.offset
        if self.low is not None and value < self.low:
            quality, reason = _UNCERTAIN, "range.under"
        elif self.high is not None and value > self.high:
            quality, reason = _UNCERTAIN, "range.over"
        elif self.signal_checks:
            # Both checks update their state on every value, so neither may short-circuit the other.
            flat, spike = self._flatline(value), self._spike(value)
            if flat:
                quality, reason = _UNCERTAIN, "flatline"
            elif spike:
                quality, reason = _UNCERTAIN, "spike"
        if reason is not None and quality is _GOOD:
            quality = _UNCERTAIN
        return ReadingRecord(
            self.point_id, self.quantity, self.unit, value, quality, reason, source, received
        )

    def _loop(self, ma: float, now: float) -> tuple[float | None, Quality, str | None]:
        assert self.loop is not None
        low_ma, high_ma, fault_low, fault_high, valid_low, valid_high, persist_s = self.loop
        if ma <= fault_low or ma >= fault_high:
            since = self.loop_fault_since
            if since is None:
                self.loop_fault_since = since = now
            side = "low" if ma <= fault_low else "high"
            if now - since >= persist_s:
                return None, _BAD, f"ne43.fail_{side}"
            return None, _UNCERTAIN, f"ne43.fail_{side}.pending"
        self.loop_fault_since = None
        if ma < valid_low or ma > valid_high:
            return None, _UNCERTAIN, "ne43.transition"
        ma = min(max(ma, low_ma), valid_high)
        span = self.raw_high - self.raw_low
        return self.raw_low + (ma - low_ma) / (high_ma - low_ma) * span, _GOOD, None

    def _flatline(self, value: float) -> bool:
        last = self.last_value
        self.last_value = value
        if last is None:
            return False
        if value != last or value == self.low or value == self.high:
            if value != last:
                self.has_moved = True
            self.repeat_count = 0
            return False
        self.repeat_count += 1
        return self.has_moved and self.repeat_count + 1 >= self.flatline_samples

    def _spike(self, value: float) -> bool:
        mean = self.ewma
        if mean is None:
            self.ewma = value
            return False
        deviation = abs(value - mean)
        floor = max(self.resolution, 1e-9)
        if deviation > self.spike_k * max(self.ewmad, floor) and self.ewmad > 0:
            self.spike_run += 1
            if self.spike_run <= SPIKE_MAX_SAMPLES:
                return True
            # Still away after more samples than a spike lasts: a real change of level.
            self.ewma, self.ewmad = value, max(self.ewmad, deviation / self.spike_k)
            self.spike_run = 0
            return False
        self.spike_run = 0
        self.ewma = mean + EWMA_ALPHA * (value - mean)
        self.ewmad += EWMA_ALPHA * (deviation - self.ewmad)
        return False
