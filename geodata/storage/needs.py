"""Company needs: create, edit and read them over a caller's connection."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geodata.schemas import Need, NeedIn
from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._tables import ENTITY_NEED, needs

__all__ = [
    "add_many_needs",
    "all_needs",
    "get_need",
    "list_needs",
    "needs_signature",
    "update_need",
]


def add_many_needs(conn: Connection, items: Sequence[NeedIn], *, actor: str) -> list[Need]:
    """Store needs at version 1, audited; returned in the order given.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    items : sequence of NeedIn
        The validated needs.
    actor : str
        Who creates them.
    """
    if not items:
        return []
    rows = [cv.need_row(item) for item in items]
    return co.insert_records(
        conn,
        needs,
        ENTITY_NEED,
        cv.need_from_row,
        rows,
        actor=actor,
        at=co.now(),
        catalogue_version=lambda: co.read_catalogue_version(conn),
    )


def get_need(conn: Connection, need_id: int) -> Need:
    """Return one need.

    Raises
    ------
    NotFoundError
        When it does not exist.
    """
    return cv.need_from_row(co.fetch_row(conn, needs, need_id, ENTITY_NEED))


def update_need(
    conn: Connection, need_id: int, item: NeedIn, *, expected_version: int, actor: str
) -> Need:
    """Replace a need, provided it is still at ``expected_version``.

    Raises
    ------
    NotFoundError
        When the need does not exist.
    StaleVersionError
        When it was changed since ``expected_version``; nothing is written.
    """
    at = co.now()
    row = cv.need_row(item)
    version = expected_version + 1
    old = co.fetch_row(conn, needs, need_id, ENTITY_NEED)
    co.compare_and_set(
        conn,
        sa.update(needs).values(**row, version=version, updated_at=at),
        needs,
        need_id,
        ENTITY_NEED,
        expected_version,
    )
    before, after = json.loads(old["doc"]), json.loads(row["doc"])
    diff = {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
    entry = co.audit_row(
        ENTITY_NEED,
        need_id,
        "update",
        version,
        actor,
        at,
        diff,
        catalogue_version=co.read_catalogue_version(conn),
    )
    co.write_audit(conn, [entry])
    return cv.need_from_row(
        {
            **row,
            "id": need_id,
            "version": version,
            "created_at": old["created_at"],
            "updated_at": at,
        }
    )


def list_needs(
    conn: Connection,
    *,
    active: bool | None = True,
    owner_account: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> co.Page[Need]:
    """Return one page of needs, the active ones by default (``active=None``: all).

    ``owner_account`` keeps only the needs of that account (a company's own needs).
    """
    co.check_page(limit, offset)
    where = [] if active is None else [needs.c.active == active]
    if owner_account is not None:
        where.append(needs.c.owner_account == owner_account)
    total = conn.execute(sa.select(sa.func.count()).select_from(needs).where(*where)).scalar_one()
    stmt = sa.select(needs).where(*where).order_by(needs.c.id).limit(limit).offset(offset)
    items = [cv.need_from_row(row) for row in conn.execute(stmt).mappings()]
    return co.Page[Need].model_construct(items=items, total=total, limit=limit, offset=offset)


def all_needs(conn: Connection, *, active: bool | None = True) -> list[Need]:
    """Return every need, the active ones by default (``active=None``: all), by id."""
    where = [] if active is None else [needs.c.active == active]
    stmt = sa.select(needs).where(*where).order_by(needs.c.id)
    return [cv.need_from_row(row) for row in conn.execute(stmt).mappings()]


def needs_signature(conn: Connection) -> tuple[int, int, int]:
    """A value that changes whenever a need is created, changed or deleted: one small query.

    ``(count, sum of versions, largest id)``: every update raises one version, every insert
    the count, and a delete lowers the count. Callers cache what they derive from the needs
    (the compiled active needs of reverse matching) under it.
    """
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(needs.c.version), 0),
            sa.func.coalesce(sa.func.max(needs.c.id), 0),
        ).select_from(needs)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])
