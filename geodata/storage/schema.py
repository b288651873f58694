"""The catalogue's schema: bring a database to the latest Alembic revision, or to another."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from geodata.storage import _common as co

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "downgrade", "migrate"]

#: The Alembic scripts shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = conn.engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    co.hooks_of(conn).lock_for_migration(conn)
    config.attributes["connection"] = conn
    return config


def migrate(conn: Connection, revision: str = "head") -> None:
    """Bring the schema up to a revision, the latest by default (safe to run again, and
    concurrently).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction; the migration runs in it.
    revision : str
        The Alembic revision to reach.

    Raises
    ------
    StorageError
        On PostgreSQL, when the PostGIS extension is missing and cannot be created; the
        message says what the administrator must install or run.
    """
    from alembic import command

    command.upgrade(_config(conn), revision)


def downgrade(conn: Connection, revision: str) -> None:
    """Take the schema back to an older revision (its data converted where it can be).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction; the migration runs in it.
    revision : str
        The Alembic revision to go back to (``"base"``: no table at all).
    """
    from alembic import command

    command.downgrade(_config(conn), revision)
