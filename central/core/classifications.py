"""The built-in shared classifications: quantities, alarm priorities and hazard categories.

Seeded into the ``classification`` table at start (missing entries only), so all plants share
one vocabulary and an admin can add hazard categories as data. Quantities come from
:data:`device_profiles.QUANTITIES`, each tagged with the hazard it measures.
"""

from __future__ import annotations

from typing import Any

from device_profiles import QUANTITIES
from protocols.sync import Priority

HAZARDS: dict[str, tuple[str, str]] = {
    "toxic_gas": ("Toxic gas", "Occupational exposure to a toxic gas (TWA, STEL, ceiling/MAC)"),
    "flammable_gas": ("Flammable gas", "Combustible gas as % of the lower explosive limit"),
    "oxygen": ("Oxygen deficiency or enrichment", "Oxygen concentration out of the safe band"),
    "noise": ("Noise", "Occupational noise exposure (LEX,8h, peak)"),
    "dust": ("Dust", "Airborne particulate, workplace or ambient"),
    "machinery": ("Machinery condition", "Vibration and wear of rotating machines"),
    "pressure": ("Pressure", "Vessels and lines above their working pressure"),
    "environment": ("Environment", "Temperature and humidity"),
    "none": ("Not a hazard", "Status words, counters and device information"),
}

# The prefix of a quantity's name decides its hazard; the first match wins.
_HAZARD_OF_PREFIX = [
    ("gas.lel", "flammable_gas"),
    ("gas.o2", "oxygen"),
    ("gas.", "toxic_gas"),
    ("noise.", "noise"),
    ("dust.", "dust"),
    ("vibration.", "machinery"),
    ("pressure", "pressure"),
    ("temperature", "environment"),
    ("humidity", "environment"),
]

# Rank: higher is more urgent. Share targets for three levels, hse-standards.md §1.4 [A5][A6]
# (5 % high / 15 % medium / 80 % low); critical is the "highest" level (< 1 %, [A8]).
PRIORITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}


def hazard_of(quantity: str) -> str:
    for prefix, hazard in _HAZARD_OF_PREFIX:
        if quantity.startswith(prefix):
            return hazard
    return "none"


def builtin_entries() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, (label, description) in HAZARDS.items():
        rows.append(
            {
                "scheme": "hazard",
                "key": key,
                "label": label,
                "rank": 0,
                "details": {"description": description},
                "builtin": True,
            }
        )
    for q in QUANTITIES.values():
        rows.append(
            {
                "scheme": "quantity",
                "key": q.name,
                "label": q.description,
                "rank": 0,
                "details": {"unit": q.unit, "hazard": hazard_of(q.name)},
                "builtin": True,
            }
        )
    for p in Priority:
        rows.append(
            {
                "scheme": "priority",
                "key": p.value,
                "label": p.value.capitalize(),
                "rank": PRIORITY_RANK[p.value],
                "details": {},
                "builtin": True,
            }
        )
    return rows


__all__ = ["HAZARDS", "PRIORITY_RANK", "builtin_entries", "hazard_of"]
