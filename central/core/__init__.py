"""Central's foundations: settings, database and its upkeep, security, the permission matrix,
time (encoding, clocks, zones), metrics, logging."""

from .clock import Clock, SystemClock, out_of_hours
from .config import Settings, load_settings, mask_url
from .db import check_db, init_db, make_engine, write_session
from .metrics import Metrics
from .permissions import MATRIX, Action, Category, allows, grants

__all__ = [
    "MATRIX",
    "Action",
    "Category",
    "Clock",
    "Metrics",
    "Settings",
    "SystemClock",
    "allows",
    "check_db",
    "grants",
    "init_db",
    "load_settings",
    "make_engine",
    "mask_url",
    "out_of_hours",
    "write_session",
]
