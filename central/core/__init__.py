"""Central's foundations: settings, database, security, time encoding, metrics, logging."""

from .config import Settings, load_settings, mask_url
from .db import check_db, init_db, make_engine, write_session
from .metrics import Metrics

__all__ = [
    "Metrics",
    "Settings",
    "check_db",
    "init_db",
    "load_settings",
    "make_engine",
    "mask_url",
    "write_session",
]
