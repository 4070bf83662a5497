"""``hse-edge probe``: read a device once through its profile and show every point decoded.

A field engineer's first tool on site: it answers "is the wiring, the address and the word order
right?" before the agent is configured. It prints point, value, unit, quality and the raw
registers (or payload) as a table, or one JSON document.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from device_profiles import Catalog, DeviceEntry, resolve_device
from protocols import ProtocolError, Quality, Sample, Timeouts, open_driver

from .config import QualityConfig
from .normalize import PointChannel
from .plant import rekey
from .poller import is_streaming


class ProbeError(Exception):
    """The device could not be read at all; the message says why, for a person."""


@dataclass(frozen=True)
class ProbeRow:
    point: str
    value: float | None
    unit: str
    quality: str
    reason: str | None
    raw: Any


async def probe(
    url: str,
    profile_id: str,
    *,
    unit_id: int | None = None,
    timeout_s: float = 2.0,
    wait_s: float = 5.0,
    catalog: Catalog | None = None,
    options: dict[str, Any] | None = None,
) -> list[ProbeRow]:
    catalog = catalog or Catalog()
    profile = catalog.profile(profile_id)
    entry = DeviceEntry(
        id="probe", profile=profile_id, url=url, unit_id=unit_id, poll_interval_s=timeout_s * 2 + 1,
        timeout_s=timeout_s, connect_timeout_s=timeout_s, options=options or {},
    )  # fmt: skip
    device = rekey(resolve_device(entry, profile))
    driver_options = {k: v for k, v in device.driver_options.items() if k != "mode"}
    driver: Any = open_driver(
        url, timeouts=Timeouts(connect_s=timeout_s, io_s=timeout_s), **driver_options
    )
    specs = [p.spec for p in device.points]
    try:
        if is_streaming(url, dict(entry.options)):
            await driver.subscribe(specs)
            await _connect(driver, url, timeout_s)
            samples = await _collect(driver, {s.key for s in specs}, wait_s)
        else:
            plan = driver.plan(specs)
            await _connect(driver, url, timeout_s)
            samples = await driver.read(plan)
    finally:
        with contextlib.suppress(ProtocolError, TimeoutError):
            async with asyncio.timeout(timeout_s):
                await driver.close()
    if samples and all(s.quality is Quality.BAD for s in samples):
        reasons = sorted({s.reason or "?" for s in samples})
        raise ProbeError(f"{url} did not give a single good value ({', '.join(reasons)})")
    by_key = {s.key: s for s in samples}
    rows = []
    quality = QualityConfig()
    for p in device.points:
        sample = by_key.get(p.key)
        if sample is None:
            rows.append(
                ProbeRow(p.point_id, None, p.canonical_unit, "bad", "probe.no_sample", None)
            )
            continue
        record = PointChannel.for_point(p.point_id, p, quality).process(sample)
        rows.append(
            ProbeRow(
                p.point_id,
                record.value,
                record.unit,
                record.quality.value,
                record.reason,
                sample.raw,
            )
        )
    return rows


async def _connect(driver: Any, url: str, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s + 1):
            await driver.connect()
    except TimeoutError as exc:
        raise ProbeError(f"{url} did not answer within {timeout_s} s") from exc
    except ProtocolError as exc:
        raise ProbeError(
            str(exc) if url in str(exc) else f"cannot connect to {url}: {exc}"
        ) from exc


async def _collect(driver: Any, keys: set[str], wait_s: float) -> list[Sample]:
    got: dict[str, Sample] = {}
    deadline = time.monotonic() + wait_s
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait_s):
            async for sample in driver.stream():
                got[sample.key] = sample
                if keys <= got.keys() or time.monotonic() > deadline:
                    break
    if not got:
        raise ProbeError(f"no message for any point within {wait_s} s")
    return list(got.values())


def format_table(rows: list[ProbeRow]) -> str:
    header = ("point", "value", "unit", "quality", "reason", "raw")
    lines = [header]
    for r in rows:
        value = "-" if r.value is None else f"{r.value:.6g}"
        raw = "" if r.raw is None else str(r.raw)
        lines.append((r.point, value, r.unit, r.quality, r.reason or "", raw[:48]))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )
