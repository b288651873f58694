"""The catalogue's schema: bring a database to the latest Alembic revision."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

from geodata.storage import _common as co

__all__ = ["MIGRATIONS_DIR", "migrate"]

#: The Alembic scripts shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def migrate(conn: Connection) -> None:
    """Bring the schema to the latest revision (safe to run again, and concurrently).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction; the migration runs in it.

    Raises
    ------
    StorageError
        On PostgreSQL, when the PostGIS extension is missing and cannot be created; the
        message says what the administrator must install or run.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "sqlalchemy.url", conn.engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    co.hooks_of(conn).lock_for_migration(conn)
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
