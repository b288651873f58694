"""Dialect hooks: the few places where SQLite and PostGIS differ, behind one overridable class."""

from __future__ import annotations

import functools
import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

__all__ = [
    "WRITE_OPTION",
    "DialectHooks",
    "PostgisHooks",
    "SqliteHooks",
    "fold_text",
    "hooks_for",
    "insert_rows",
    "register_hooks",
]

#: Execution option set on connections that open a write transaction.
WRITE_OPTION = "implanter_write"

#: A bounding box ``(min_lon, min_lat, max_lon, max_lat)``: numbers, or SQL expressions (the
#: bound parameters of a statement built once and run with the numbers).
Bounds = tuple[float | sa.ColumnElement[Any], ...]


def fold_text(text: str) -> str:
    """Lower case without accents, as the free-text filter compares texts.

    Examples
    --------
    >>> fold_text("Éco-Parc des Ardoines, VITRY")
    'eco-parc des ardoines, vitry'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.lower().replace("œ", "oe").replace("æ", "ae")


def _fold_or_none(text: str | None) -> str | None:
    return None if text is None else fold_text(text)


#: The accented letters PostgreSQL's ``translate`` folds, and what to (both cases, so that
#: the result does not depend on the database's locale); œ and æ are replaced apart.
_ACCENTED = "àâäáãåçéèêëîïíìôöóòõùûüúÿñÀÂÄÁÃÅÇÉÈÊËÎÏÍÌÔÖÓÒÕÙÛÜÚŸÑ"
_PLAIN = "aaaaaaceeeeiiiiooooouuuuyn" * 2


class DialectHooks:
    """Behaviour shared by every backend; subclasses override what their dialect does better.

    The generic implementation works on any SQL database through the ``lon``/``lat`` columns.
    """

    #: SQLAlchemy dialect name this class serves (``engine.dialect.name``).
    name: ClassVar[str] = "default"

    def prepare_url(self, url: URL) -> None:
        """Prepare what the URL needs before the first connection (e.g. a folder)."""

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        """Return extra keyword arguments for :func:`sqlalchemy.create_engine`."""
        return {"pool_pre_ping": True}

    def configure_engine(self, engine: Engine) -> None:
        """Attach connection events to a freshly created engine."""

    def bbox_filter(self, table: sa.Table, bbox: Bounds) -> sa.ColumnElement[bool]:
        """Return a predicate keeping the rows of ``table`` whose point lies in ``bbox``.

        Parameters
        ----------
        table : sqlalchemy.Table
            A table with ``lon`` and ``lat`` columns (WGS84).
        bbox : tuple of float or of SQL expressions
            ``(min_lon, min_lat, max_lon, max_lat)``, edges included: numbers, or the bound
            parameters that will carry them.
        """
        min_lon, min_lat, max_lon, max_lat = bbox
        return sa.and_(
            table.c.lon.between(min_lon, max_lon),
            table.c.lat.between(min_lat, max_lat),
        )

    def fold(self, text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Return ``text`` as the free-text filter compares it (see :func:`fold_text`).

        The generic version only lowers the case.
        """
        return sa.func.lower(text)

    def lock_for_migration(self, conn: Connection) -> None:
        """Serialise concurrent migrations (several workers starting at once)."""

    def serialise(self, conn: Connection, key: int) -> None:
        """Make the writers that pass the same ``key`` in their transaction wait for each other
        until it ends (a check-then-insert that two processes must not run at once).

        Nothing to do here: a write transaction on SQLite (``BEGIN IMMEDIATE``) already holds
        the only write lock of the database.
        """

    def insert_many(
        self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Insert rows (one ``executemany``) and return their new ``id`` values, in order.

        Parameters
        ----------
        conn : sqlalchemy.Connection
            A connection inside the caller's transaction.
        table : sqlalchemy.Table
            A table with an autoincrement integer ``id``.
        rows : sequence of mapping
            Column values, every row with the same keys and without ``id``.
        """
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(stmt, list(rows)).scalars().all())


class SqliteHooks(DialectHooks):
    """SQLite file: created on first use, WAL journal, foreign keys, write transactions
    that take the write lock up front (``BEGIN IMMEDIATE``) so that they never deadlock."""

    name = "sqlite"
    busy_timeout_s: ClassVar[float] = 30.0

    def prepare_url(self, url: URL) -> None:
        """Create the folder of the database file."""
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        """Wait for the write lock rather than failing at once."""
        return {"connect_args": {"timeout": self.busy_timeout_s}}

    def configure_engine(self, engine: Engine) -> None:
        """Turn on WAL and foreign keys, and take over transaction control from pysqlite."""

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, record: Any) -> None:
            # pysqlite's own BEGIN handling defers it to the first write; we emit BEGIN.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("PRAGMA journal_mode=WAL").fetchall()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA synchronous=NORMAL")
            finally:
                cursor.close()
            dbapi_conn.create_function("implanter_fold", 1, _fold_or_none, deterministic=True)

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def insert_many(
        self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Insert rows in one batched ``executemany``, then read their ids back in order.

        On SQLite, SQLAlchemy sends an ``INSERT … RETURNING`` that must give the ids in the
        order of the rows one row per statement (100,000 statements for a large import).
        A write transaction holds the write lock from its start (``BEGIN IMMEDIATE``), so
        the new rows take the next ids in the order given: the ids above the largest one
        before the insert are theirs. Outside a write transaction, the generic way.
        """
        if not rows or not conn.get_execution_options().get(WRITE_OPTION, False):
            return super().insert_many(conn, table, rows)
        before = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        insert_rows(conn, table, rows)
        ids = conn.execute(
            sa.select(table.c.id).where(table.c.id > before).order_by(table.c.id)
        ).scalars()
        out = list(ids)
        if len(out) != len(rows):  # pragma: no cover - another writer despite the lock
            msg = f"inserted {len(rows)} rows into {table.name} but found {len(out)} new ids"
            raise RuntimeError(msg)
        return out

    def fold(self, text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """:func:`fold_text` itself, registered on each connection (SQLite's ``lower`` folds
        ASCII letters only, and it has no ``translate``)."""
        return sa.func.implanter_fold(text)


class PostgisHooks(DialectHooks):
    """PostgreSQL with PostGIS: the bbox filter uses the GiST-indexed ``geom`` column."""

    name = "postgresql"
    #: Key of the transaction-level advisory lock taken while migrating.
    migration_lock_key: ClassVar[int] = 0x1A9_1A47E5

    def bbox_filter(self, table: sa.Table, bbox: Bounds) -> sa.ColumnElement[bool]:
        """``geom && ST_MakeEnvelope(...)``: an index scan on the GiST index.

        ``&&`` compares float4 boxes rounded outwards, so the exact ``lon``/``lat`` test of
        the generic filter is kept too: the edges are the same as on SQLite.
        """
        min_lon, min_lat, max_lon, max_lat = bbox
        geom: sa.ColumnElement[Any] = sa.literal_column(f"{_quoted(table)}.geom")
        envelope = sa.func.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)
        overlaps: sa.ColumnElement[bool] = geom.op("&&", return_type=sa.Boolean)(envelope)
        return sa.and_(overlaps, super().bbox_filter(table, bbox))

    def fold(self, text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``translate`` of the accented letters after ``lower``: no extension needed."""
        folded = sa.func.translate(sa.func.lower(text), _ACCENTED, _PLAIN)
        for ligature, plain in (("œ", "oe"), ("Œ", "oe"), ("æ", "ae"), ("Æ", "ae")):
            folded = sa.func.replace(folded, ligature, plain)
        return folded

    def lock_for_migration(self, conn: Connection) -> None:
        """Take a transaction-level advisory lock, released at commit."""
        self.serialise(conn, self.migration_lock_key)

    def serialise(self, conn: Connection, key: int) -> None:
        """A transaction-level advisory lock on ``key``, released at commit or rollback."""
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def insert_many(
        self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Reserve the ids from the sequence first, then insert without RETURNING.

        A plain ``executemany`` goes through psycopg's pipeline with one prepared statement;
        ``INSERT ... RETURNING`` over many rows makes SQLAlchemy build huge multi-VALUES
        statements that psycopg parses in Python (about 5x slower for 10,000 listings).
        """
        if not rows:
            return []
        ids: list[int] = sorted(
            conn.execute(
                sa.text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(rows)},
            ).scalars()
        )
        insert_rows(conn, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows with one ``executemany`` of the driver, the values bound as SQLAlchemy would.

    ``conn.execute(sa.insert(table), rows)`` builds and processes a parameter set per row in
    Python, a third of the time of a large import. Here the statement is compiled once for
    the keys of the first row, each column's bind processor (dates as text on SQLite, UTC
    timestamps...) runs over the column at once, and the driver gets plain tuples (or
    dicts); errors are SQLAlchemy's, as with ``conn.execute``.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside the caller's transaction.
    table : sqlalchemy.Table
        The table.
    rows : sequence of mapping
        Column values, every row with the same keys.
    """
    if not rows:
        return
    compiled = _compiled_insert(table, tuple(rows[0]), conn.dialect)
    if compiled is None:  # bind names the driver sees differ from the keys: the generic way
        conn.execute(sa.insert(table), list(rows))
        return
    sql, names, processors = compiled
    columns: list[Any] = []
    for name, process in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        columns.append(values if process is None else _processed(values, process))
    params: list[Any] = list(zip(*columns, strict=True))
    if not conn.dialect.positional:
        params = [dict(zip(names, values, strict=True)) for values in params]
    conn.exec_driver_sql(sql, params)


def _processed(values: list[Any], process: Any) -> list[Any]:
    """``[process(v) for v in values]``, processing a value repeated in a row (the timestamps
    of a batch are one object) once."""
    if values[0] is not values[-1]:
        return [process(v) for v in values]
    out: list[Any] = []
    last: Any = out  # not a value
    done: Any = None
    for value in values:
        if value is not last:
            last, done = value, process(value)
        out.append(done)
    return out


@functools.lru_cache(maxsize=64)
def _compiled_insert(
    table: sa.Table, keys: tuple[str, ...], dialect: sa.Dialect
) -> tuple[str, tuple[str, ...], tuple[Any, ...]] | None:
    compiled = sa.insert(table).compile(
        dialect=dialect, column_keys=list(keys), for_executemany=True
    )
    if compiled.escaped_bind_names:
        return None
    names = tuple(compiled.positiontup or ()) if compiled.positional else keys
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return str(compiled), names, processors


def _quoted(table: sa.Table) -> str:
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect().identifier_preparer.format_table(table)


_HOOKS: dict[str, type[DialectHooks]] = {
    SqliteHooks.name: SqliteHooks,
    PostgisHooks.name: PostgisHooks,
}


def register_hooks(hooks: type[DialectHooks]) -> None:
    """Use ``hooks`` for every database whose dialect is ``hooks.name``.

    Parameters
    ----------
    hooks : type of DialectHooks
        A subclass overriding what its dialect does differently.
    """
    _HOOKS[hooks.name] = hooks


def hooks_for(url: URL | str) -> DialectHooks:
    """Return the hooks of the dialect named by a database URL.

    Examples
    --------
    >>> type(hooks_for("sqlite:///catalogue.db")).__name__
    'SqliteHooks'
    >>> type(hooks_for("postgresql+psycopg://me@localhost/implanter")).__name__
    'PostgisHooks'
    """
    url = sa.make_url(url)
    return _HOOKS.get(url.get_backend_name(), DialectHooks)()
