"""Writes the ``input.jsonl`` of the rules golden cases (run by hand; the files are committed).

    python tests/cases/make_inputs.py

Each line of an input is one of, with ``at`` in seconds from the case's ``start``:

    {"at": 5, "reading": {"point": ..., "value": 0.3, "quality": "good", "reason": null}}
    {"at": 30, "tick": true}
    {"at": 960, "command": {"action": "ack", "alarm_id": ..., "actor": ..., "reason": ""}}

The signals are deterministic (fixed formulas, a seeded generator for noise), so the files can be
regenerated bit for bit.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def reading(at: float, point: str, value: float | None, quality: str = "good",
            reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    v = None if value is None else round(value, 4)
    return {"at": at, "reading": {"point": point, "value": v, "quality": quality, "reason": reason}}


def tick(at: float) -> dict[str, Any]:
    return {"at": at, "tick": True}


def command(at: float, action: str, alarm_id: str, actor: str, reason: str = "",
            until_in_s: float | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "action": action,
        "alarm_id": alarm_id,
        "actor": actor,
        "reason": reason,
    }
    if until_in_s is not None:
        body["until_in_s"] = until_in_s
    return {"at": at, "command": body}


def leak_ramp() -> Iterator[dict[str, Any]]:
    """H2S leak: baseline, a 10-min ramp to 20 ppm, hold, acks, back down, reset of the latch."""
    p = "demo/gd-1/h2s"
    for at in range(0, 1505, 5):
        if at < 300:
            v = 0.3 + 0.02 * math.sin(at / 17)
        elif at < 900:
            v = 0.3 + (20 - 0.3) * (at - 300) / 600
        elif at < 1020:
            v = 20.0
        elif at < 1320:
            v = 20 - (20 - 0.3) * (at - 1020) / 300
        else:
            v = 0.3 + 0.02 * math.sin(at / 17)
        yield reading(at, p, v)
        if at == 960:
            yield command(at, "ack", f"{p}:hh", "op.wang")
            yield command(at, "ack", f"{p}:h", "op.wang")
            yield command(at, "ack", f"{p}:ceiling", "op.wang")
        if at == 1450:
            yield command(at, "reset", f"{p}:hh", "op.wang", "leak isolated, area checked")
        if at % 30 == 0:
            yield tick(at)


def stuck_sensor() -> Iterator[dict[str, Any]]:
    """The cell sticks at 0.3 ppm; the quality stage flags it after 30 repeats; replaced."""
    p = "demo/gd-2/h2s"
    rng = random.Random(11)
    repeats = 0
    for at in range(0, 1205, 5):
        if 300 <= at < 900:
            repeats += 1
            if repeats >= 30:  # QualityConfig.flatline_samples = 30
                yield reading(at, p, 0.3, "uncertain", "flatline")
            else:
                yield reading(at, p, 0.3)
        else:
            yield reading(at, p, 0.3 + rng.gauss(0, 0.03))
        if at == 880:
            yield command(at, "suppress", f"{p}:h", "logic:maintenance", "cell replacement")
            yield command(at, "suppress", f"{p}:hh", "logic:maintenance", "cell replacement")
        if at == 960:
            yield command(at, "unsuppress", f"{p}:h", "logic:maintenance", "done")
            yield command(at, "unsuppress", f"{p}:hh", "logic:maintenance", "done")
        if at % 30 == 0:
            yield tick(at)


def bearing_wear() -> Iterator[dict[str, Any]]:
    """Pump bearing: velocity RMS grows 1.2 · e^(k·t), reaching 4.5 mm/s on day 12."""
    p = "demo/pump-1/vib"
    k = math.log(4.5 / 1.2) / 12  # per day
    rng = random.Random(5)
    for i in range(7 * 144 + 1):  # every 10 min for 7 days
        at = i * 600
        days = at / 86_400
        yield reading(at, p, 1.2 * math.exp(k * days) * (1 + rng.gauss(0, 0.02)))
        if at % 3600 == 0:
            yield tick(at)


def loop_fault() -> Iterator[dict[str, Any]]:
    """4-20 mA gas detector: gas rises, the loop breaks (NE 43 low), repair, then a comm loss."""
    p = "demo/gd-3/h2s"
    for at in range(0, 360, 2):
        if at < 60:
            yield reading(at, p, 0.3)
        elif at < 120:
            yield reading(at, p, 0.3 + (9.0 - 0.3) * (at - 60) / 60)
        elif at < 124:
            yield reading(at, p, None, "uncertain", "ne43.fail_low.pending")
        elif at < 190:
            yield reading(at, p, None, "bad", "ne43.fail_low")
        elif at < 240:
            yield reading(at, p, 2.0)
        elif at < 250:
            yield reading(at, p, None, "bad", "modbus.timeout")
        elif at < 300:
            pass  # nothing at all arrives
        else:
            yield reading(at, p, 0.3)
        if at == 200:
            yield command(at, "ack", f"{p}:h", "op.zhao")
        if at % 10 == 0:
            yield tick(at)


CASES = {
    "leak_ramp": leak_ramp,
    "stuck_sensor": stuck_sensor,
    "bearing_wear": bearing_wear,
    "loop_fault": loop_fault,
}


def main() -> None:
    for name, make in CASES.items():
        path = HERE / name / "input.jsonl"
        path.parent.mkdir(exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for line in make():
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
