"""Quantities the platform measures, their canonical units, and unit conversion.

Every ``Reading`` carries its value in the canonical unit of its quantity. Devices may report in
other units (psi, bar, ppb, µg/m³, in/s); the agent converts once, at normalization.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    unit: str
    description: str
    molecular_weight: float | None = None  # g/mol, for ppm <-> mg/m³ of gases


# Molecular weights from the periodic table; ppm <-> mg/m³ uses them with the limit set's molar
# volume (hse-standards.md §2.3: 24.45 L/mol at 25 °C for ACGIH/OSHA, 24.06 L/mol at 20 °C for China).
QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in [
        Quantity("gas.h2s", "ppm", "hydrogen sulphide", 34.08),
        Quantity("gas.co", "ppm", "carbon monoxide", 28.01),
        Quantity("gas.so2", "ppm", "sulphur dioxide", 64.07),
        Quantity("gas.nh3", "ppm", "ammonia", 17.03),
        Quantity("gas.cl2", "ppm", "chlorine", 70.90),
        Quantity("gas.no2", "ppm", "nitrogen dioxide", 46.01),
        Quantity("gas.hcn", "ppm", "hydrogen cyanide", 27.03),
        Quantity("gas.o2", "%vol", "oxygen"),
        Quantity("gas.lel", "%LEL", "combustible gas, percent of the lower explosive limit"),
        Quantity("pressure", "kPa", "gauge pressure"),
        Quantity("noise.laeq", "dB(A)", "A-weighted equivalent continuous sound level"),
        Quantity("noise.lcpeak", "dB(C)", "C-weighted peak sound pressure level"),
        Quantity("dust.pm25", "µg/m³", "particulate matter PM2.5"),
        Quantity("dust.pm10", "µg/m³", "particulate matter PM10"),
        Quantity("dust.tsp", "µg/m³", "total suspended particulate"),
        Quantity("dust.total", "mg/m³", "total dust (workplace)"),
        Quantity("dust.respirable", "mg/m³", "respirable dust (workplace)"),
        Quantity("dust.respirable_silica", "mg/m³", "respirable crystalline silica (workplace)"),
        Quantity("vibration.velocity_rms", "mm/s", "broadband vibration velocity, RMS"),
        Quantity("temperature", "°C", "temperature"),
        Quantity("humidity", "%RH", "relative humidity"),
        Quantity("status", "1", "device status word or flag"),
        Quantity("runtime", "h", "operating hours counter"),
        Quantity(
            "info", "", "device information as text (serial number, firmware), not a measurement"
        ),
    ]
}

# Linear factors to the canonical unit: canonical = value * factor.
_FACTORS: dict[tuple[str, str], float] = {
    ("ppb", "ppm"): 1e-3,
    ("%vol", "ppm"): 1e4,
    ("ppm", "%vol"): 1e-4,
    ("Pa", "kPa"): 1e-3,
    ("MPa", "kPa"): 1e3,
    ("bar", "kPa"): 100.0,
    ("mbar", "kPa"): 0.1,
    ("psi", "kPa"): 6.894757293168361,
    ("mg/m³", "µg/m³"): 1e3,
    ("µg/m³", "mg/m³"): 1e-3,
    ("in/s", "mm/s"): 25.4,
    ("s", "h"): 1 / 3600,
    ("min", "h"): 1 / 60,
    ("°F", "°C"): 5 / 9,  # offset handled in convert()
}

_ALIASES = {
    "mg/m3": "mg/m³",
    "ug/m3": "µg/m³",
    "μg/m³": "µg/m³",
    "dBA": "dB(A)",
    "dBC": "dB(C)",
    "% LEL": "%LEL",
    "%lel": "%LEL",
    "% vol": "%vol",
    "%VOL": "%vol",
    "degC": "°C",
}


class UnitError(ValueError):
    """A unit is unknown or cannot be converted to the one asked for."""


def canonical_unit(quantity: str) -> str:
    try:
        return QUANTITIES[quantity].unit
    except KeyError:
        raise UnitError(
            f"unknown quantity {quantity!r}; known: {', '.join(sorted(QUANTITIES))}"
        ) from None


def normalize_unit(unit: str) -> str:
    return _ALIASES.get(unit, unit)


def conversion(from_unit: str, to_unit: str) -> tuple[float, float]:
    """(factor, offset) so that ``to = from * factor + offset``; raises ``UnitError``."""
    src, dst = normalize_unit(from_unit), normalize_unit(to_unit)
    if src == dst:
        return 1.0, 0.0
    if (src, dst) == ("°F", "°C"):
        return 5 / 9, -32 * 5 / 9
    if (src, dst) in _FACTORS:
        return _FACTORS[(src, dst)], 0.0
    if (dst, src) in _FACTORS:
        return 1.0 / _FACTORS[(dst, src)], 0.0
    raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}")


def ppm_to_mg_m3(ppm: float, quantity: str, molar_volume_l: float) -> float:
    """mg/m³ = ppm × MW / molar volume (hse-standards.md §2.3, CCOHS [G15])."""
    mw = _molecular_weight(quantity)
    return ppm * mw / molar_volume_l


def mg_m3_to_ppm(mg_m3: float, quantity: str, molar_volume_l: float) -> float:
    mw = _molecular_weight(quantity)
    return mg_m3 * molar_volume_l / mw


def _molecular_weight(quantity: str) -> float:
    q = QUANTITIES.get(quantity)
    if q is None or q.molecular_weight is None:
        raise UnitError(f"quantity {quantity!r} has no molecular weight for ppm <-> mg/m³")
    return q.molecular_weight
