"""Plumbing shared by the storage function modules: transactions, audit, versions, errors."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from geodata.schemas import Need, Premises
from geodata.storage import _convert as cv
from geodata.storage._dialects import DialectHooks, hooks_for, insert_rows
from geodata.storage._tables import audit_log, catalogue_state
from geodata.storage.errors import DuplicateRefError, NotFoundError, StaleVersionError, StorageError

__all__ = [
    "CHUNK",
    "HOOKS_OPTION",
    "Page",
    "audit_row",
    "bump_catalogue",
    "check_page",
    "chunks",
    "compare_and_set",
    "count_rows",
    "enum_value",
    "fetch_row",
    "guard",
    "hooks_of",
    "insert_records",
    "now",
    "read_catalogue_version",
    "write_audit",
]

#: Values per ``IN (...)`` list.
CHUNK = 500
#: Execution option carrying the :class:`DialectHooks` of a connection (set by the facade).
HOOKS_OPTION = "implanter_hooks"

T = TypeVar("T")
M = TypeVar("M", Premises, Need)


class Page(BaseModel, Generic[T]):
    """One page of a listing query, with the total number of matching records."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)


def hooks_of(conn: Connection) -> DialectHooks:
    """Return the dialect hooks of a connection: those the facade set, else its dialect's."""
    hooks: DialectHooks | None = conn.get_execution_options().get(HOOKS_OPTION)
    return hooks if hooks is not None else hooks_for(conn.engine.url)


def now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """Split ``values`` into slices short enough for one ``IN (...)`` list."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def enum_value(enum: type[StrEnum], value: str, name: str) -> str:
    """Return ``value`` as a member of ``enum``, or raise a ``ValueError`` naming the field."""
    try:
        return str(enum(value))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        msg = f"{name}: unknown value {value!r}; use one of {allowed}"
        raise ValueError(msg) from None


def check_page(limit: int, offset: int) -> None:
    """Refuse a negative page size or offset."""
    if limit < 0 or offset < 0:
        msg = f"limit, offset: must not be negative (got limit={limit}, offset={offset})"
        raise ValueError(msg)


def audit_row(
    entity: str,
    entity_id: int,
    action: str,
    version: int,
    actor: str,
    at: datetime,
    changes: Mapping[str, Any] | str,
    *,
    catalogue_version: int,
) -> dict[str, Any]:
    """Return the values of one ``audit_log`` row (``changes`` as JSON text)."""
    if not isinstance(changes, str):
        changes = json.dumps(changes, ensure_ascii=False, default=cv.jsonable)
    return {
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "version": version,
        "actor": actor,
        "at": at,
        "changes": changes,
        "catalogue_version": catalogue_version,
    }


def write_audit(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Insert audit rows (built by :func:`audit_row`) in the caller's transaction."""
    insert_rows(conn, audit_log, entries)


def bump_catalogue(conn: Connection, at: datetime) -> int:
    """Add one to the catalogue version and return the new value.

    The update locks the counter row until the caller's transaction ends, so catalogue
    versions are committed in increasing order: a reader that saw version ``v`` has seen
    every change recorded under a version up to ``v``. Call it after the data statements,
    just before the audit rows, to hold that lock as briefly as possible.
    """
    conn.execute(
        sa.update(catalogue_state)
        .where(catalogue_state.c.id == 1)
        .values(version=catalogue_state.c.version + 1, updated_at=at)
    )
    version = conn.execute(
        sa.select(catalogue_state.c.version).where(catalogue_state.c.id == 1)
    ).scalar_one()
    return int(version)


#: The counter on ``catalogue_state`` of each counted table.
_COUNTERS = {"premises": "premises_count", "needs": "needs_count"}


def count_rows(conn: Connection, table: sa.Table, delta: int) -> None:
    """Add ``delta`` to the stored number of rows of ``table`` (premises or needs).

    Called in the transaction of every insert and delete, so the counts on
    ``catalogue_state`` commit (or roll back) with the rows they count. Tables without a
    counter are ignored.
    """
    name = _COUNTERS.get(table.name)
    if name is None or delta == 0:
        return
    column = catalogue_state.c[name]
    conn.execute(
        sa.update(catalogue_state).where(catalogue_state.c.id == 1).values({name: column + delta})
    )


#: Read at every request that matches or lists: built once (not its cache key every time).
_CATALOGUE_VERSION = sa.select(catalogue_state.c.version).where(catalogue_state.c.id == 1)


def read_catalogue_version(conn: Connection) -> int:
    """Return the catalogue version as the connection sees it (0 before the first change)."""
    version = conn.execute(_CATALOGUE_VERSION).scalar_one_or_none()
    return int(version or 0)


def fetch_row(conn: Connection, table: sa.Table, entity_id: int, entity: str) -> Mapping[Any, Any]:
    """Return one full row of ``table``, or raise :class:`NotFoundError`."""
    row = conn.execute(sa.select(table).where(table.c.id == entity_id)).mappings().first()
    if row is None:
        raise NotFoundError(entity, entity_id)
    return row


def compare_and_set(
    conn: Connection,
    stmt: sa.Update | sa.Delete,
    table: sa.Table,
    entity_id: int,
    entity: str,
    expected: int,
) -> None:
    """Run an UPDATE or DELETE on one row only if it is still at version ``expected``.

    A DELETE also lowers the table's count on ``catalogue_state`` (:func:`count_rows`).

    Raises
    ------
    NotFoundError
        When the row does not exist.
    StaleVersionError
        When it is at another version; nothing is written.
    """
    done = conn.execute(stmt.where(table.c.id == entity_id, table.c.version == expected))
    if done.rowcount == 1:
        if isinstance(stmt, sa.Delete):
            count_rows(conn, table, -1)
        return
    current = conn.execute(
        sa.select(table.c.version).where(table.c.id == entity_id)
    ).scalar_one_or_none()
    if current is None:
        raise NotFoundError(entity, entity_id)
    raise StaleVersionError(entity, entity_id, expected, current)


@contextmanager
def guard(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    taken: Callable[[Connection, list[str]], list[str]],
) -> Iterator[None]:
    """Run premises writes in a savepoint; turn refused values into messages that say what to do.

    The savepoint keeps the caller's transaction usable after a refusal (PostgreSQL aborts a
    transaction on error), so the clashing references can be looked up on the same connection.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside the caller's transaction.
    rows : sequence of mapping
        The rows being written (their ``external_ref`` values are checked on a refusal).
    taken : callable
        ``taken(conn, refs)`` returns those of ``refs`` used by other stored listings.
    """
    try:
        with conn.begin_nested():
            yield
    except sa.exc.IntegrityError as exc:
        refs = [r["external_ref"] for r in rows if r.get("external_ref")]
        twice = [ref for ref, n in Counter(refs).items() if n > 1]
        if twice:
            raise DuplicateRefError(twice, "appears more than once in the batch") from exc
        clashing = taken(conn, refs)
        if clashing:
            raise DuplicateRefError(clashing, "is already used by a stored listing") from exc
        msg = f"the database refused the change: {exc.orig}; check the values and try again"
        raise StorageError(msg) from exc
    except sa.exc.DataError as exc:
        msg = (
            f"the database cannot store a value: {exc.orig}; check that numbers are within "
            "range and texts contain no NUL character"
        )
        raise StorageError(msg) from exc


def insert_records(
    conn: Connection,
    table: sa.Table,
    entity: str,
    from_row: Callable[[dict[str, Any]], M],
    rows: Sequence[Mapping[str, Any]],
    *,
    actor: str,
    at: datetime,
    catalogue_version: Callable[[], int],
) -> list[M]:
    """Insert new records at version 1, audit their creation and return them as models.

    ``catalogue_version()`` is called once the rows are inserted (so a bump of the counter,
    which locks it until commit, comes as late as it can) and recorded on the audit rows.
    """
    full = [{**row, "version": 1, "created_at": at, "updated_at": at} for row in rows]
    ids = hooks_of(conn).insert_many(conn, table, full)
    records = [from_row({**r, "id": i}) for r, i in zip(full, ids, strict=True)]
    version = catalogue_version()
    count_rows(conn, table, len(records))
    write_audit(
        conn,
        [
            audit_row(
                entity,
                r.id,
                "create",
                1,
                actor,
                at,
                r.model_dump_json(),
                catalogue_version=version,
            )
            for r in records
        ],
    )
    return records
