"""Premises: create, upsert, edit, delete and query listings over a caller's connection.

Every function takes a :class:`sqlalchemy.Connection` inside a transaction the caller opened
(:meth:`geodata.storage.Repository.begin` opens one), writes its audit rows in that same
transaction and never commits: several calls, and other writes, can form one transaction.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy.engine import Connection, RowMapping

from geodata.schemas import Premises, PremisesCreate, Status
from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._dialects import DialectHooks
from geodata.storage._tables import ENTITY_PREMISES, USE_BITS, as_utc, premises
from geodata.storage.errors import DuplicateRefError, NotFoundError, StaleVersionError
from geodata.storage.query import DISTANCE, PremisesQuery, fold_text

__all__ = [
    "UpsertResult",
    "add_many_premises",
    "confirm_premises",
    "count_premises",
    "delete_premises",
    "get_premises",
    "list_premises",
    "page_keys",
    "page_rows",
    "patch_premises",
    "premises_by_refs",
    "rows_by_ids",
    "select_premises",
    "set_status",
    "update_premises",
    "upsert_premises_by_ref",
    "where_clauses",
]


class UpsertResult(BaseModel):
    """Ids of the listings an upsert created, updated, and left as they were."""

    created: list[int] = Field(default_factory=list)
    updated: list[int] = Field(default_factory=list)
    unchanged: list[int] = Field(default_factory=list)


# -- writes -------------------------------------------------------------------------------------


def _rows_by_refs(
    conn: Connection, refs: Sequence[str], *, for_update: bool = False
) -> list[Mapping[Any, Any]]:
    rows: list[Mapping[Any, Any]] = []
    for chunk in co.chunks(refs):
        stmt = sa.select(premises).where(premises.c.external_ref.in_(chunk))
        if for_update:
            stmt = stmt.with_for_update()
        rows.extend(conn.execute(stmt).mappings().all())
    return rows


def _taken_by(ids: Sequence[int] = ()) -> Callable[[Connection, list[str]], list[str]]:
    def taken(conn: Connection, refs: list[str]) -> list[str]:
        return [r["external_ref"] for r in _rows_by_refs(conn, refs) if r["id"] not in set(ids)]

    return taken


def _insert(
    conn: Connection,
    rows: list[dict[str, Any]],
    *,
    actor: str,
    at: Any,
    catalogue_version: Callable[[], int],
) -> list[Premises]:
    return co.insert_records(
        conn,
        premises,
        ENTITY_PREMISES,
        cv.premises_from_row,
        rows,
        actor=actor,
        at=at,
        catalogue_version=catalogue_version,
    )


def add_many_premises(
    conn: Connection, items: Sequence[PremisesCreate], *, actor: str
) -> list[Premises]:
    """Store new listings at version 1: all of them, or none when one is refused.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    items : sequence of PremisesCreate
        The validated listings.
    actor : str
        Who creates them (recorded in the audit log).

    Returns
    -------
    list of Premises
        The stored listings with their ids, versions and timestamps, in the order given.

    Raises
    ------
    DuplicateRefError
        When an ``external_ref`` appears twice in the batch or is already stored; nothing
        is written.
    """
    if not items:
        return []
    at = co.now()
    rows = [cv.premises_row(item) for item in items]
    with co.guard(conn, rows, _taken_by()):
        records = _insert(
            conn, rows, actor=actor, at=at, catalogue_version=lambda: co.bump_catalogue(conn, at)
        )
    return records


def upsert_premises_by_ref(
    conn: Connection,
    items: Sequence[PremisesCreate],
    *,
    actor: str,
    expected_versions: Mapping[str, int] | None = None,
    verified_at: datetime | None = None,
) -> UpsertResult:
    """Create or update listings by their ``external_ref``.

    A listing whose reference is stored replaces the stored one (version + 1, audited)
    when something differs, and is left alone (same version) otherwise. Listings without a
    reference, or with a new one, are created. Fields are replaced, not merged: a field
    left empty clears the stored value, and ``status`` takes the item's value.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    items : sequence of PremisesCreate
        The validated listings.
    actor : str
        Who imports them.
    expected_versions : mapping of str to int, optional
        For references whose items were built from stored values, the version those
        values were read at: if a listing changed since, nothing is written.
    verified_at : datetime, optional
        The freshness date (``last_verified_at``) of a listing given without one that is
        created, or that replaces a stored listing which has one: an import dates what it
        vouches for, and never turns a dated listing into one that is never flagged nor
        hidden. A stored listing without a date, given again without one, is left as it is.

    Returns
    -------
    UpsertResult
        Ids created, updated and unchanged, each in the order of ``items``.

    Raises
    ------
    DuplicateRefError
        When a reference appears twice in ``items``; nothing is written.
    StaleVersionError
        When a listing named in ``expected_versions`` changed since; nothing is written.
    """
    refs = [item.external_ref for item in items if item.external_ref]
    twice = [ref for ref, n in Counter(refs).items() if n > 1]
    if twice:
        raise DuplicateRefError(twice, "appears more than once in the batch")
    result = UpsertResult()
    if not items:
        return result
    at = co.now()
    expected_versions = expected_versions or {}
    with co.guard(conn, [{"external_ref": ref} for ref in refs], _taken_by()):
        # Batches of rows, so that a large import never holds every row, stored row,
        # parameter set and audit text at once; the whole upsert is still one transaction,
        # so a stale listing found in a later batch writes nothing either.
        created: list[tuple[int, PremisesCreate]] = []
        changed: list[tuple[int, int, dict[str, Any]]] = []
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            batch_refs = [item.external_ref for item in batch if item.external_ref]
            stored = {
                row["external_ref"]: row for row in _rows_by_refs(conn, batch_refs, for_update=True)
            }
            for ref, old_row in stored.items():
                expected = expected_versions.get(ref)
                if expected is not None and old_row["version"] != expected:
                    raise StaleVersionError(
                        ENTITY_PREMISES, old_row["id"], expected, old_row["version"]
                    )
            to_insert: list[dict[str, Any]] = []
            new_items: list[PremisesCreate] = []
            to_update: list[dict[str, Any]] = []
            rows = [cv.premises_row(item, check=False) for item in batch]
            cv.check_storable_many(rows)
            for item, row in zip(batch, rows, strict=True):
                old = stored.get(row["external_ref"]) if row["external_ref"] else None
                if (
                    verified_at is not None
                    and row["last_verified_at"] is None
                    and (old is None or old["last_verified_at"] is not None)
                ):
                    row["last_verified_at"] = verified_at
                    item = item.model_copy(update={"last_verified_at": verified_at})
                if old is None:
                    to_insert.append({**row, "version": 1, "created_at": at, "updated_at": at})
                    new_items.append(item)
                    continue
                diff = cv.premises_diff(old, row)
                if not diff:
                    result.unchanged.append(old["id"])
                    continue
                version = old["version"] + 1
                to_update.append({**row, "b_id": old["id"], "version": version, "updated_at": at})
                changed.append((old["id"], version, diff))
                result.updated.append(old["id"])
            if to_update:
                conn.execute(
                    sa.update(premises).where(premises.c.id == sa.bindparam("b_id")), to_update
                )
            if to_insert:
                ids = co.hooks_of(conn).insert_many(conn, premises, to_insert)
                created.extend(zip(ids, new_items, strict=True))
        if not (created or changed):
            return result
        # One bump for the whole upsert, after the data statements, before the audit rows.
        catalogue_version = co.bump_catalogue(conn, at)
        co.count_rows(conn, premises, len(created))
        stamp = _created_stamp(at)
        for start in range(0, len(created), BATCH):
            co.write_audit(
                conn,
                [
                    co.audit_row(
                        ENTITY_PREMISES,
                        pid,
                        "create",
                        1,
                        actor,
                        at,
                        _created_json(item, pid, at, stamp),
                        catalogue_version=catalogue_version,
                    )
                    for pid, item in created[start : start + BATCH]
                ],
            )
        result.created.extend(pid for pid, _ in created)
        co.write_audit(
            conn,
            [
                co.audit_row(
                    ENTITY_PREMISES,
                    pid,
                    "update",
                    version,
                    actor,
                    at,
                    diff,
                    catalogue_version=catalogue_version,
                )
                for pid, version, diff in changed
            ],
        )
    return result


#: Rows per statement of a large upsert.
BATCH = 1000

_STAMP = TypeAdapter(datetime)


def _created_stamp(at: datetime) -> str:
    """The JSON of ``at`` as a stored listing serialises ``created_at`` and ``updated_at``."""
    return _STAMP.dump_json(as_utc(at)).decode()


def _created_json(item: PremisesCreate, premises_id: int, at: datetime, stamp: str) -> str:
    """The audit text of a created listing: the stored listing as JSON, as
    ``Premises.model_dump_json()`` gives it, without building the model again.

    The owner's fields serialise as in the item, followed by the identity, version,
    timestamps and the (empty) gallery of photos; a ``last_verified_at`` that is not in UTC
    is stored converted, so that item goes through the model read back from its row instead.
    """
    verified = item.last_verified_at
    if verified is not None and verified.utcoffset() != timedelta(0):
        row = {**cv.premises_row(item), "id": premises_id, "version": 1}
        row["created_at"] = row["updated_at"] = at
        return cv.premises_from_row(row).model_dump_json()
    head = item.model_dump_json()
    system = f'"id":{premises_id},"version":1,"created_at":{stamp},"updated_at":{stamp}'
    return f'{head[:-1]},{system},"gallery":[]}}'


def update_premises(
    conn: Connection,
    premises_id: int,
    item: PremisesCreate,
    *,
    expected_version: int,
    actor: str,
) -> Premises:
    """Replace a listing, provided it is still at ``expected_version``.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    premises_id : int
        The listing.
    item : PremisesCreate
        Its full new description.
    expected_version : int
        The version the caller read (an ETag); the update is a compare-and-set on it.
    actor : str
        Who edits it.

    Returns
    -------
    Premises
        The listing at version ``expected_version + 1``.

    Raises
    ------
    NotFoundError
        When the listing does not exist.
    StaleVersionError
        When it was changed since ``expected_version``; nothing is written.
    DuplicateRefError
        When the new ``external_ref`` belongs to another listing.
    """
    row = cv.premises_row(item)
    return _replace(conn, premises_id, row, expected_version, actor, "update")


def patch_premises(
    conn: Connection,
    premises_id: int,
    changes: Mapping[str, Any],
    *,
    expected_version: int,
    actor: str,
    context: dict[str, Any] | None = None,
) -> Premises:
    """Change some fields of a listing, re-validate it whole, then update it.

    When ``lon`` or ``lat`` change and ``commune_insee`` (or ``zone_id``) is not among the
    changes, the old value is dropped so that validation derives it from the new point.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    premises_id : int
        The listing.
    changes : mapping
        ``{field: new value}`` in the form :class:`PremisesCreate` accepts.
    expected_version : int
        The version the caller read.
    actor : str
        Who edits it.
    context : dict, optional
        Validation context (e.g. ``{"territory": t}``); without a territory the merged
        listing's place is not checked.

    Returns
    -------
    Premises
        The listing at version ``expected_version + 1``.

    Raises
    ------
    pydantic.ValidationError
        When the merged listing is invalid (unknown fields included).
    NotFoundError, StaleVersionError, DuplicateRefError
        As :func:`update_premises`.
    """
    current = get_premises(conn, premises_id)
    if current.version != expected_version:
        raise StaleVersionError(ENTITY_PREMISES, premises_id, expected_version, current.version)
    merged = current.model_dump(include=set(cv.PREMISES_FIELDS))
    if "lon" in changes or "lat" in changes:
        for derived in ("commune_insee", "zone_id"):
            if derived not in changes:
                merged[derived] = None
    merged.update(changes)
    item = PremisesCreate.model_validate(merged, context=context)
    return update_premises(conn, premises_id, item, expected_version=expected_version, actor=actor)


def set_status(
    conn: Connection,
    premises_id: int,
    status: Status | str,
    *,
    expected_version: int,
    actor: str,
    verified_at: datetime | None = None,
) -> Premises:
    """Mark a listing available, under offer, let, sold or withdrawn.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    premises_id : int
        The listing.
    status : Status or str
        The new status.
    expected_version : int
        The version the caller read.
    actor : str
        Who changes it.
    verified_at : datetime, optional
        When given, also the listing's new freshness date (``last_verified_at``): its owner
        or the staff changing the status have looked at it.

    Returns
    -------
    Premises
        The listing at version ``expected_version + 1``.

    Raises
    ------
    ValueError
        When ``status`` is not a :class:`Status`.
    NotFoundError, StaleVersionError
        As :func:`update_premises`.
    """
    values: dict[str, Any] = {"status": co.enum_value(Status, str(status), "status")}
    if verified_at is not None:
        values["last_verified_at"] = verified_at
    return _replace(conn, premises_id, values, expected_version, actor, "status")


def confirm_premises(
    conn: Connection,
    premises_id: int,
    *,
    at: datetime,
    actor: str,
    expected_version: int | None = None,
) -> Premises:
    """Record that a listing's owner (or the staff) confirmed it is still true, at ``at``.

    Sets ``last_verified_at`` (its freshness date), as a versioned write audited as
    ``confirm``. The rest of the listing is unchanged.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    premises_id : int
        The listing.
    at : datetime
        When it was confirmed (aware; the caller's clock).
    actor : str
        Who confirms it.
    expected_version : int, optional
        The version the caller read: a compare-and-set on it. Without it, the version
        stored now is confirmed (its row is locked until the transaction ends).

    Returns
    -------
    Premises
        The listing at its next version.

    Raises
    ------
    NotFoundError
        When the listing does not exist.
    StaleVersionError
        When it is no longer at ``expected_version``; nothing is written.
    """
    if expected_version is None:
        stmt = sa.select(premises.c.version).where(premises.c.id == premises_id)
        current = conn.execute(stmt.with_for_update()).scalar_one_or_none()
        if current is None:
            raise NotFoundError(ENTITY_PREMISES, premises_id)
        expected_version = int(current)
    values = {"last_verified_at": at}
    return _replace(conn, premises_id, values, expected_version, actor, "confirm")


def _replace(
    conn: Connection,
    premises_id: int,
    values: dict[str, Any],
    expected_version: int,
    actor: str,
    action: str,
) -> Premises:
    at = co.now()
    with co.guard(conn, [values], _taken_by([premises_id])):
        old = co.fetch_row(conn, premises, premises_id, ENTITY_PREMISES)
        new = {name: old[name] for name in cv.PREMISES_FIELDS} | values
        version = expected_version + 1
        co.compare_and_set(
            conn,
            sa.update(premises).values(**values, version=version, updated_at=at),
            premises,
            premises_id,
            ENTITY_PREMISES,
            expected_version,
        )
        diff = cv.premises_diff(old, new)
        entry = co.audit_row(
            ENTITY_PREMISES,
            premises_id,
            action,
            version,
            actor,
            at,
            diff,
            catalogue_version=co.bump_catalogue(conn, at),
        )
        co.write_audit(conn, [entry])
    return cv.premises_from_row(
        {
            **new,
            "id": premises_id,
            "version": version,
            "created_at": old["created_at"],
            "updated_at": at,
            "gallery": old["gallery"],
        }
    )


def delete_premises(
    conn: Connection, premises_id: int, *, expected_version: int, actor: str
) -> None:
    """Delete a listing, provided it is still at ``expected_version``.

    The audit log keeps the full record as it was, under version ``expected_version + 1``.

    Raises
    ------
    NotFoundError
        When the listing does not exist.
    StaleVersionError
        When it was changed since ``expected_version``; nothing is deleted.
    """
    at = co.now()
    old = co.fetch_row(conn, premises, premises_id, ENTITY_PREMISES)
    co.compare_and_set(
        conn, sa.delete(premises), premises, premises_id, ENTITY_PREMISES, expected_version
    )
    record = cv.premises_from_row(old).model_dump(mode="json")
    entry = co.audit_row(
        ENTITY_PREMISES,
        premises_id,
        "delete",
        expected_version + 1,
        actor,
        at,
        record,
        catalogue_version=co.bump_catalogue(conn, at),
    )
    co.write_audit(conn, [entry])


# -- reads --------------------------------------------------------------------------------------


def get_premises(conn: Connection, premises_id: int) -> Premises:
    """Return one listing.

    Raises
    ------
    NotFoundError
        When it does not exist.
    """
    return cv.premises_from_row(co.fetch_row(conn, premises, premises_id, ENTITY_PREMISES))


def _query_values(query: PremisesQuery) -> dict[str, Any]:
    """The values a query's SELECT binds, by parameter name: those of its filters
    (:func:`_filter_values`), then the point of a distance order and the page.

    Examples
    --------
    >>> _query_values(PremisesQuery(kind="warehouse", q="Quai 100%", offset=50))
    {'p_kind': 'warehouse', 'p_word_0': 'quai', 'p_word_1': '100/%', 'p_limit': 50, 'p_offset': 50}
    """
    values = _filter_values(query)
    if query.order_by == DISTANCE and query.near is not None:
        lon, lat = query.near
        # Equirectangular: exact enough to rank points a territory apart, and plain
        # arithmetic on lon/lat, the same on SQLite and PostgreSQL.
        values.update(p_near_lon=lon, p_near_lat=lat, p_near_scale=math.cos(math.radians(lat)))
    if query.limit is not None:
        values["p_limit"] = query.limit
    if query.offset:
        values["p_offset"] = query.offset
    return values


def _filter_values(query: PremisesQuery) -> dict[str, Any]:
    """The values a query's filters bind, by parameter name; the names present are the shape
    of its WHERE clause (:func:`_where`)."""
    values: dict[str, Any] = {}
    if query.commune is not None:
        values["p_commune"] = query.commune
    if query.kind is not None:
        values["p_kind"] = query.kind.value
    if query.use is not None:
        values["p_use_bit"] = USE_BITS[query.use.value]
    if query.min_surface_m2 is not None:
        values["p_min_surface_m2"] = query.min_surface_m2
    if query.max_surface_m2 is not None:
        values["p_max_surface_m2"] = query.max_surface_m2
    if query.status is not None:
        values["p_status"] = query.status.value
    if query.bbox is not None:
        values.update(zip(_BBOX, query.bbox, strict=True))
    if query.available_by is not None:
        values["p_available_by"] = query.available_by
    for name in _PRICES:
        low, high = getattr(query, f"min_{name}"), getattr(query, f"max_{name}")
        if low is not None:
            values[f"p_min_{name}"] = low
        if high is not None:
            values[f"p_max_{name}"] = high
    if query.q is not None:
        for i, word in enumerate(fold_text(query.q).split()):
            values[f"p_word_{i}"] = _like_escaped(word)
    if query.owner is not None:
        values["p_owner"] = query.owner
    if query.visible_since is not None:
        values["p_visible_since"] = query.visible_since
        if query.visible_owner is not None:
            values["p_visible_owner"] = query.visible_owner
    return values


#: The parameters of a bounding box, in the order of :data:`geodata.storage.query.BBox`.
_BBOX = ("p_min_lon", "p_min_lat", "p_max_lon", "p_max_lat")
#: The price columns filtered by a range.
_PRICES = ("rent_eur_m2_year", "sale_price_eur")
#: The escape character of the free-text ``LIKE`` patterns.
_ESCAPE = "/"


def _like_escaped(word: str) -> str:
    """``word`` matched literally inside a ``LIKE`` pattern escaped with ``/`` (what
    SQLAlchemy's ``autoescape`` does to a value it binds itself).

    Examples
    --------
    >>> _like_escaped("50%_a/b")
    '50/%/_a//b'
    """
    escaped = word.replace(_ESCAPE, _ESCAPE * 2)
    return escaped.replace("%", f"{_ESCAPE}%").replace("_", f"{_ESCAPE}_")


def _bind(
    values: Mapping[str, Any] | None, name: str, column: sa.ColumnElement[Any]
) -> sa.BindParameter[Any]:
    """The parameter ``name``, typed as ``column``: holding its value from ``values``, or
    without one (to be given on execution) when ``values`` is None."""
    if values is None:
        return sa.bindparam(name, type_=column.type, required=True)
    return sa.bindparam(name, values[name], type_=column.type)


def _where(
    hooks: DialectHooks, names: Collection[str], values: Mapping[str, Any] | None
) -> list[sa.ColumnElement[bool]]:
    """The WHERE predicates of the filters named in ``names`` (:func:`_query_values`), each
    comparing to the bound parameter of its name (see :func:`_bind` for ``values``).

    They depend on the names alone, never on the values: a statement built once for a set of
    names serves every query that has them.
    """
    c = premises.c

    def bind(name: str, column: sa.ColumnElement[Any]) -> sa.BindParameter[Any]:
        return _bind(values, name, column)

    where: list[sa.ColumnElement[bool]] = []
    if "p_commune" in names:
        where.append(c.commune_insee == bind("p_commune", c.commune_insee))
    if "p_kind" in names:
        where.append(c.kind == bind("p_kind", c.kind))
    if "p_use_bit" in names:
        where.append(c.uses.bitwise_and(bind("p_use_bit", c.uses)) != 0)
    if "p_min_surface_m2" in names:
        where.append(c.surface_m2 >= bind("p_min_surface_m2", c.surface_m2))
    if "p_max_surface_m2" in names:
        where.append(c.surface_m2 <= bind("p_max_surface_m2", c.surface_m2))
    if "p_status" in names:
        where.append(c.status == bind("p_status", c.status))
    if _BBOX[0] in names:
        axes = (c.lon, c.lat, c.lon, c.lat)
        bbox = tuple(bind(name, axis) for name, axis in zip(_BBOX, axes, strict=True))
        where.append(hooks.bbox_filter(premises, bbox))
    if "p_available_by" in names:
        by = bind("p_available_by", c.available_from)
        where.append(sa.or_(c.available_from.is_(None), c.available_from <= by))
    for name in _PRICES:
        if f"p_min_{name}" in names:
            where.append(c[name] >= bind(f"p_min_{name}", c[name]))
        if f"p_max_{name}" in names:
            where.append(c[name] <= bind(f"p_max_{name}", c[name]))
    if "p_word_0" in names:
        texts = [hooks.fold(c[n]) for n in ("title", "description", "address")]
        for i in itertools.count():
            if f"p_word_{i}" not in names:
                break
            word = bind(f"p_word_{i}", c.title)
            where.append(sa.or_(*(t.contains(word, escape=_ESCAPE) for t in texts)))
    if "p_owner" in names:
        where.append(c.owner_account == bind("p_owner", c.owner_account))
    if "p_visible_since" in names:
        verified = c.last_verified_at
        public = sa.and_(
            c.status != Status.withdrawn.value,
            sa.or_(verified.is_(None), verified >= bind("p_visible_since", verified)),
        )
        if "p_visible_owner" in names:
            public = sa.or_(public, c.owner_account == bind("p_visible_owner", c.owner_account))
        where.append(public)
    return where


def where_clauses(conn: Connection, query: PremisesQuery) -> list[sa.ColumnElement[bool]]:
    """Return the WHERE predicates of a query's filters (its page and order aside)."""
    values = _filter_values(query)
    return _where(co.hooks_of(conn), values, values)


def _order_key(
    order_by: str, names: Collection[str], values: Mapping[str, Any] | None
) -> sa.ColumnElement[Any]:
    """The first ORDER BY key of a query: a column, or the distance to its point."""
    if order_by == DISTANCE and "p_near_lon" in names:
        c = premises.c
        dx = (c.lon - _bind(values, "p_near_lon", c.lon)) * _bind(values, "p_near_scale", c.lon)
        dy = c.lat - _bind(values, "p_near_lat", c.lat)
        return (dx * dx + dy * dy).asc()
    column = premises.c[order_by.lstrip("-")]
    # Listings without the value come last, whatever the direction (as PostgreSQL does).
    key = column.desc() if order_by.startswith("-") else column.asc()
    return key.nulls_last()


def _select(
    hooks: DialectHooks,
    order_by: str,
    names: Collection[str],
    values: Mapping[str, Any] | None,
    columns: Sequence[sa.ColumnElement[Any]],
) -> sa.Select[Any]:
    """The SELECT of a query given by its parameter names (:func:`_query_values`): its filters,
    its order (then id) and its page."""
    stmt = sa.select(*columns) if columns else sa.select(premises)
    stmt = stmt.where(*_where(hooks, names, values))
    stmt = stmt.order_by(_order_key(order_by, names, values), premises.c.id)
    if "p_limit" in names:
        stmt = stmt.limit(_bind(values, "p_limit", premises.c.id))
    if "p_offset" in names:
        stmt = stmt.offset(_bind(values, "p_offset", premises.c.id))
    return stmt


def select_premises(
    conn: Connection, query: PremisesQuery, *columns: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    """Return the SELECT of a query: its filters, its order (then id) and its page.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        The connection the statement will run on (its dialect shapes the bbox filter).
    query : PremisesQuery
        The filters, page and order.
    *columns : sqlalchemy column
        What to select; every column of ``premises`` when none is given.
    """
    values = _query_values(query)
    return _select(co.hooks_of(conn), query.order_by, values, values, columns)


def list_premises(
    conn: Connection, query: PremisesQuery | None = None, *, total: int | None = None
) -> co.Page[Premises]:
    """Return one page of the listings matching a query, with the total number matching.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    query : PremisesQuery, optional
        Filters, page and order (default: the first 50 listings by id).
    total : int, optional
        The number of listings matching the query's filters when the caller knows it
        already (:func:`count_premises` at the same catalogue version); counted otherwise.

    Returns
    -------
    Page
        The listings and the total number matching (``limit`` is the page size asked, or the
        total when the query has none).
    """
    query = query if query is not None else PremisesQuery()
    if total is None:
        total = count_premises(conn, query)
    items = [cv.premises_from_row(row) for row in page_rows(conn, query)]
    limit = total if query.limit is None else query.limit
    return co.Page[Premises].model_construct(
        items=items, total=total, limit=limit, offset=query.offset
    )


def page_rows(conn: Connection, query: PremisesQuery) -> Sequence[RowMapping]:
    """Return the rows of one page of a query, unconverted (see ``_convert.premises_from_row``).

    For a caller that builds only some of them into models (the public JSON of a listing at
    one version is the same every time).
    """
    return conn.execute(select_premises(conn, query)).mappings().all()


def page_keys(conn: Connection, query: PremisesQuery) -> list[tuple[int, int, str | None]]:
    """Return the ``id``, ``version`` and ``owner_account`` of one page of a query's listings.

    Enough for a caller holding the listings' JSON by version to read only the rows it lacks
    (:func:`rows_by_ids`). The statement is built once per shape of query (the same filters,
    order and page given, whatever their values) and only binds the values.
    """
    values = _query_values(query)
    stmt = _page_keys_statement(co.hooks_of(conn), query.order_by, tuple(values))
    rows = conn.execute(stmt, values).all()
    return [(pid, version, owner) for pid, version, owner in rows]


#: The columns :func:`page_keys` reads.
_KEY_COLUMNS = (premises.c.id, premises.c.version, premises.c.owner_account)


@functools.lru_cache(maxsize=256)
def _page_keys_statement(
    hooks: DialectHooks, order_by: str, names: tuple[str, ...]
) -> sa.Select[Any]:
    """The SELECT of :func:`page_keys` for the queries binding ``names`` in this order."""
    return _select(hooks, order_by, names, None, _KEY_COLUMNS)


@functools.lru_cache(maxsize=256)
def _count_statement(hooks: DialectHooks, names: tuple[str, ...]) -> sa.Select[Any]:
    """The ``COUNT(*)`` of :func:`count_premises` for the filters binding ``names``."""
    where = _where(hooks, names, None)
    return sa.select(sa.func.count()).select_from(premises).where(*where)


# Built once: the statements of the per-request reads by ids (an expanding parameter).
_ROWS_BY_IDS = sa.select(premises).where(premises.c.id.in_(sa.bindparam("ids", expanding=True)))


def rows_by_ids(conn: Connection, ids: Iterable[int]) -> dict[int, RowMapping]:
    """Return the stored rows of the listings among ``ids``, unconverted, by id (ids not
    stored are left out); :func:`geodata.storage.catalogue.premises_by_ids` as rows."""
    out: dict[int, RowMapping] = {}
    for chunk in co.chunks(sorted({int(i) for i in ids})):
        for row in conn.execute(_ROWS_BY_IDS, {"ids": chunk}).mappings():
            out[row["id"]] = row
    return out


def count_premises(conn: Connection, query: PremisesQuery | None = None) -> int:
    """Count the listings matching a query's filters (its page and order aside)."""
    values = _filter_values(query) if query is not None else {}
    stmt = _count_statement(co.hooks_of(conn), tuple(values))
    return int(conn.execute(stmt, values).scalar_one())


def premises_by_refs(conn: Connection, refs: Iterable[str]) -> dict[str, Premises]:
    """Return the stored listings with these external references, keyed by reference.

    References that are not stored are absent from the result.
    """
    wanted = sorted({r for r in refs if r})
    return {row["external_ref"]: cv.premises_from_row(row) for row in _rows_by_refs(conn, wanted)}
