"""Alembic environment: run the catalogue migrations on a connection given by the caller."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

config = context.config


def _run_on(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=None,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection in ``config.attributes``, or one opened from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from geodata.storage import get_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        msg = "no database URL: set sqlalchemy.url, or call Repository(url).migrate()"
        raise RuntimeError(msg)
    with get_engine(url).begin() as conn:
        _run_on(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
