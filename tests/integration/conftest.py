"""Fixtures the central integration modules share.

``database_url`` is module-scoped: pytest makes one per module that asks for it (and per
parameter), wherever the fixture is defined, so each module still has a database of its own and
its tests share it. A module that wants another lifetime defines its own ``database_url``.
"""

from __future__ import annotations

import pytest

from tests.support.central import create_admin, session_postgres_url, sqlite_url

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file of this module's own, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("central"))
    return session_postgres_url(request)


@pytest.fixture(scope="module")
def admin_name(database_url: str) -> str:
    """An admin user made once per module, in this module's database."""
    return create_admin(database_url)[0]
