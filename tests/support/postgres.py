"""A throwaway PostgreSQL database per test session, when ``HSE_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

ENV = "HSE_TEST_POSTGRES_URL"


def admin_url() -> str | None:
    return os.environ.get(ENV) or None


@contextmanager
def scratch_database(prefix: str = "hse_test") -> Iterator[str]:
    """Create ``<prefix>_<random>`` through the admin URL, yield its URL, drop it afterwards."""
    import psycopg

    url = admin_url()
    if url is None:
        raise RuntimeError(f"{ENV} is not set")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    db_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    try:
        yield db_url
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
