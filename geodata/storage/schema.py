"""The catalogue's schema: bring a database to the latest Alembic revision, or to another."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geodata.storage import _common as co

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_current",
    "migrate",
]

#: The Alembic scripts shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


_REVISION = re.compile(r"^revision(?::[^=]*)? = [\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?::[^=]*)? = (?:[\"']([^\"']+)[\"']|None)", re.MULTILINE)


@functools.cache
def head_revision() -> str | None:
    """Return the latest revision of the shipped migrations, read from their files.

    Cheap (no Alembic import): the revision that no other names as ``down_revision``.
    Returns None when the files do not show exactly one such head (then only Alembic knows).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found, down = _REVISION.search(text), _DOWN.search(text)
        if found is None or down is None:
            return None
        revisions.add(found.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(conn: Connection) -> str | None:
    """Return the revision a database is at, or None when it has never been migrated."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None


def is_current(conn: Connection) -> bool:
    """Tell, without importing Alembic, whether a database is at the latest revision."""
    head = head_revision()
    return head is not None and current_revision(conn) == head


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
