"""Shared fixtures: a migrated catalogue on SQLite (a file) and on PostGIS (a throwaway DB)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import NoReturn, Protocol

import pytest
import sqlalchemy as sa

from geodata.storage import Repository, dispose_engine

__all__ = ["BACKENDS", "ScratchDatabase", "scratch_database"]

#: Parameters of the backend fixtures; PostGIS ones carry the ``postgis`` marker.
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgis", id="postgis", marks=pytest.mark.postgis),
]

_DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_DATA_TABLES = (
    "premises_photos",
    "premises",
    "needs",
    "audit_log",
    "contact_requests",
    "notifications",
    "webhooks",
    "web_sessions",
    "login_throttle",
    "api_keys",
    "accounts",
    "outcomes",
    "ranking_models",
)


def _no_postgis(reason: str) -> NoReturn:
    """Skip, or fail when the run requires PostGIS (CI sets IMPLANTER_REQUIRE_POSTGIS=1)."""
    if os.environ.get("IMPLANTER_REQUIRE_POSTGIS") == "1":
        pytest.fail(f"PostGIS required (IMPLANTER_REQUIRE_POSTGIS=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of a PostgreSQL role that may create databases, on a server that has PostGIS.

    Read from ``IMPLANTER_TEST_PG_URL`` (default: user ``postgres`` on 127.0.0.1:5432). Skips
    the test when the server is unreachable or lacks PostGIS, or fails it when
    ``IMPLANTER_REQUIRE_POSTGIS=1``.
    """
    url = sa.make_url(os.environ.get("IMPLANTER_TEST_PG_URL", _DEFAULT_ADMIN_URL))
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            available = conn.execute(
                sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).first()
    except sa.exc.OperationalError as exc:
        _no_postgis(f"cannot reach PostgreSQL at {url.host}:{url.port} ({exc.orig})")
    finally:
        admin.dispose()
    if available is None:
        _no_postgis(f"the PostgreSQL server at {url.host}:{url.port} has no PostGIS package")
    return url.render_as_string(hide_password=False)


@contextmanager
def scratch_database(admin_url: str, *, owner: str | None = None) -> Iterator[str]:
    """Create an empty database (no extension, no tables), yield its URL, then drop it.

    Parameters
    ----------
    admin_url : str
        A role that may create databases (see :func:`pg_admin_url`).
    owner : str, optional
        Role that owns the database and connects to it (default: the admin role).
    """
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"implanter_test_{secrets.token_hex(4)}"
    quote = admin.dialect.identifier_preparer.quote
    url = sa.make_url(admin_url).set(database=name)
    if owner is not None:
        url = url.set(username=owner, password=None)
    rendered = url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        owned = f" OWNER {quote(owner)}" if owner else ""
        conn.execute(sa.text(f"CREATE DATABASE {quote(name)}{owned}"))
    try:
        yield rendered
    finally:
        dispose_engine(rendered)
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """URL of a fresh, migrated PostGIS database for this test session, dropped at the end.

    The admin role creates the database, owns it and enables PostGIS (through ``migrate``).
    """
    with scratch_database(pg_admin_url) as url:
        Repository(url).migrate()
        yield url


class ScratchDatabase(Protocol):
    """Signature of the :func:`pg_scratch` fixture's value."""

    def __call__(self, *, owner: str | None = None) -> AbstractContextManager[str]: ...


@pytest.fixture
def pg_scratch(pg_admin_url: str) -> ScratchDatabase:
    """Make empty PostgreSQL databases: ``with pg_scratch() as url: ...`` (dropped after)."""
    return partial(scratch_database, pg_admin_url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """URL of a SQLite file in the test's temporary folder (not created yet)."""
    url = f"sqlite:///{tmp_path / 'data' / 'implanter.db'}"
    yield url
    dispose_engine(url)


def _clean(url: str) -> None:
    """Empty the data tables of a migrated database and reset its counters."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            tables = ", ".join(conn.dialect.identifier_preparer.quote(t) for t in _DATA_TABLES)
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY"))
            conn.execute(
                sa.text(
                    "UPDATE catalogue_state SET version = 0, premises_count = 0, needs_count = 0"
                )
            )
    finally:
        engine.dispose()


def _backend_url(request: pytest.FixtureRequest) -> str:
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        Repository(url).migrate()
        return url
    if backend == "postgis":
        url = request.getfixturevalue("pg_url")
        _clean(url)
        return url
    msg = f"unknown backend {backend!r}: use 'sqlite' or 'postgis'"
    raise ValueError(msg)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty, migrated catalogue; runs the test once per backend.

    Pick one backend with ``@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)``.
    """
    return _backend_url(request)


@pytest.fixture(params=BACKENDS)
def repo(request: pytest.FixtureRequest) -> Iterator[Repository]:
    """An empty, migrated :class:`Repository`; runs the test once per backend.

    Pick one backend with ``@pytest.mark.parametrize("repo", ["sqlite"], indirect=True)``.
    """
    repository = Repository(_backend_url(request))
    yield repository
    repository.dispose()
