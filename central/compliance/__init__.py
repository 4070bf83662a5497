"""The compliance ledger: per point and local day, the mean, the maximum and the exceedances
against the plant's exposure limit set, with the raw readings behind each exceedance; a
printable report (HTML, CSV); and a what-if over changed limits.

Computed on demand, set-based, from the hourly roll-up (:mod:`central.models.rollup`): one
grouped query gives every (point, day) of a period, another lists the raw readings behind the
exceedances. See docs/central-records.md for why on demand rather than maintained on ingest.
"""

from .days import Day, local_days
from .ledger import LedgerInputs, evaluate_plant, ledger_for
from .limits import DEFAULT_MOLAR_VOLUME_L, PointLimits, resolve_limits
from .render import ledger_csv, ledger_html
from .whatif import what_if

__all__ = [
    "DEFAULT_MOLAR_VOLUME_L",
    "Day",
    "LedgerInputs",
    "PointLimits",
    "evaluate_plant",
    "ledger_csv",
    "ledger_for",
    "ledger_html",
    "local_days",
    "resolve_limits",
    "what_if",
]
