"""Whole-catalogue reads: its version, its changes, its counts, its listings as columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from geodata.schemas import Premises, PremisesKind, Status, Tenure
from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage import _tables
from geodata.storage._tables import ENTITY_PREMISES, UTCDateTime, audit_log, needs, premises
from geodata.storage.premises import select_premises
from geodata.storage.query import PremisesQuery

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CatalogueChanges",
    "CatalogueState",
    "at_one_version",
    "catalogue_state",
    "catalogue_version",
    "changes_since",
    "counts",
    "premises_by_ids",
    "premises_columns",
    "premises_frame",
    "recount",
    "uses_text",
]

T = TypeVar("T")

#: Columns no criterion reads (free text, JSON, contacts, bookkeeping, surfaces and counts
#: that no need states): left out of :func:`premises_columns` by default.
NOT_MATCHED: tuple[str, ...] = (
    "external_ref",
    "address",
    "footprint",
    "lot_ref",
    "owner_account",
    "contact_name",
    "contact_email",
    "contact_phone",
    "photos",
    "gallery",
    "description",
    "created_at",
    "updated_at",
    "mezzanine_m2",
    "plot_m2",
    "parking_spaces",
)


#: Text columns holding an enumeration: read as positions, decoded once per value.
_CODED: dict[str, type[StrEnum]] = {"kind": PremisesKind, "status": Status, "tenure": Tenure}


def _text_dtype() -> Any:
    """pandas 3 has a real string dtype (missing values are NaN); pandas 2 keeps objects."""
    import pandas as pd

    return "str" if int(pd.__version__.split(".")[0]) >= 3 else object


class CatalogueChanges(BaseModel):
    """The listings changed between two catalogue versions.

    Apply ``upserted`` (insert or replace each listing) and ``removed`` (drop each id) to a
    copy of the catalogue taken at ``since`` to bring it to ``version``.
    """

    model_config = ConfigDict(frozen=True)

    since: int
    version: int
    upserted: list[Premises]
    removed: list[int]


class CatalogueState(BaseModel):
    """The catalogue's version and size, as one row of ``catalogue_state`` holds them."""

    model_config = ConfigDict(frozen=True)

    version: int
    premises: int
    needs: int


def catalogue_state(conn: Connection) -> CatalogueState:
    """Return the catalogue version and the numbers of listings and needs, in one small read.

    The counts are kept by the storage functions in the transaction of each insert and
    delete (no ``COUNT(*)`` scan); :func:`recount` gives the same numbers by counting.
    """
    state_table = _tables.catalogue_state
    row = conn.execute(
        sa.select(
            state_table.c.version, state_table.c.premises_count, state_table.c.needs_count
        ).where(state_table.c.id == 1)
    ).first()
    if row is None:
        return CatalogueState(version=0, premises=0, needs=0)
    return CatalogueState(version=int(row[0]), premises=int(row[1]), needs=int(row[2]))


def catalogue_version(conn: Connection) -> int:
    """Return a number that grows with every transaction that changes premises."""
    return co.read_catalogue_version(conn)


def at_one_version(conn: Connection, read: Callable[[], T], *, tries: int = 5) -> tuple[int, T]:
    """Run ``read`` and return it with the catalogue version its data are at.

    On PostgreSQL (read committed) each statement sees the commits made before it, so data
    read after the version may already hold a later write. Every write bumps the version in
    its own transaction, so when the version is the same before and after ``read``, no write
    committed in between and the data are exactly at that version. Otherwise it reads again,
    up to ``tries`` times, then returns the version read first: the data may then be newer
    than that label, never older, so whoever applies the next changes since it loses nothing.

    Examples
    --------
    >>> from geodata.storage import Repository
    >>> repo = Repository("sqlite://")
    >>> repo.migrate()
    >>> with repo.connect() as conn:
    ...     at_one_version(conn, lambda: "data")
    (0, 'data')
    """
    for _ in range(max(1, tries)):
        before = catalogue_version(conn)
        value = read()
        if catalogue_version(conn) == before:
            return before, value
    return before, value


def changes_since(conn: Connection, version: int) -> CatalogueChanges:
    """Return the listings created, changed or deleted after catalogue version ``version``.

    Read from the audit log, whose rows record the catalogue version each change produced.
    Listings still stored come back as they are now (several changes to one listing give
    one entry); deleted ones by id. Applying the result twice, or to a copy already newer
    than ``version``, gives the same catalogue: changes are idempotent.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    version : int
        The catalogue version the caller's copy was taken at (:func:`catalogue_version`).

    Returns
    -------
    CatalogueChanges
        The current version, the listings to insert or replace (by id) and the ids to drop.

    Raises
    ------
    ValueError
        When ``version`` is ahead of the catalogue (a copy of another, or of a restored
        database): rebuild the copy instead.
    """
    current, (ids, upserted) = at_one_version(conn, lambda: _changed(conn, version))
    if version > current:
        msg = (
            f"version: {version} is ahead of the catalogue (at version {current}); the copy "
            "comes from another database or from before a restore: rebuild it"
        )
        raise ValueError(msg)
    kept = {p.id for p in upserted}
    return CatalogueChanges(
        since=version,
        version=current,
        upserted=upserted,
        removed=[i for i in ids if i not in kept],
    )


def _changed(conn: Connection, version: int) -> tuple[list[int], list[Premises]]:
    """The ids of the listings changed after ``version``, and those still stored, as now."""
    stmt = (
        sa.select(audit_log.c.entity_id)
        .where(audit_log.c.entity == ENTITY_PREMISES, audit_log.c.catalogue_version > version)
        .distinct()
    )
    ids = sorted(int(i) for i in conn.execute(stmt).scalars())
    rows: list[Any] = []
    for chunk in co.chunks(ids):
        found = sa.select(premises).where(premises.c.id.in_(chunk)).order_by(premises.c.id)
        rows.extend(conn.execute(found).mappings())
    return ids, [cv.premises_from_row(row) for row in rows]


def counts(conn: Connection) -> dict[str, int]:
    """Return the number of stored listings and needs, read from the catalogue state."""
    state = catalogue_state(conn)
    return {"premises": state.premises, "needs": state.needs}


def recount(conn: Connection) -> dict[str, int]:
    """Count the stored listings and needs with ``COUNT(*)`` (a scan: for checks only)."""
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        for name, table in (("premises", premises), ("needs", needs))
    }


def premises_by_ids(conn: Connection, ids: Sequence[int]) -> dict[int, Premises]:
    """Return the stored listings among ``ids``, by id (ids not stored are left out)."""
    out: dict[int, Premises] = {}
    for chunk in co.chunks(sorted({int(i) for i in ids})):
        found = sa.select(premises).where(premises.c.id.in_(chunk))
        for row in conn.execute(found).mappings():
            item = cv.premises_from_row(row)
            out[item.id] = item
    return out


def premises_columns(
    conn: Connection,
    names: Sequence[str] | None = None,
    query: PremisesQuery | None = None,
    *,
    ids: Sequence[int] | None = None,
    refs: Sequence[str] | None = None,
    for_update: bool = False,
) -> dict[str, np.ndarray]:
    """Return listing columns as numpy arrays, without a frame or a model per row.

    The fast path to a match index: only the columns asked for, no per-row validation, no
    geometry; one query, its numbers and enumerations converted by numpy as one float block.
    Arrays are aligned, in the order of the query (by id by default).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    names : sequence of str, optional
        Columns of ``premises`` to read; ``id`` always comes first. Default: every column
        except :data:`NOT_MATCHED`.
    query : PremisesQuery, optional
        The listings to read and their order (default: all of them, by id).
    ids, refs : sequence, optional
        Read only the listings with these ids, or these external references (the written
        listings of an import, before and after its write); those not stored are left out.
        Read in slices short enough for one ``IN (...)`` list, then ordered by id.
    for_update : bool
        With ``ids`` or ``refs``: lock those rows first (``FOR UPDATE`` on PostgreSQL; SQLite
        has one writer at a time), so that what is read stays what it is until the caller's
        transaction ends: a write committed meanwhile is waited for, then read.

    Returns
    -------
    dict of str to numpy.ndarray
        Numbers as ``float64`` with NaN for missing values (integers too, except the
        non-null ``id`` and ``version`` as ``int64``), non-null flags as ``bool``, nullable
        ones as objects (True, False or None), dates and timestamps as ``datetime64[us]``
        (timestamps in UTC, naive), ``uses`` as comma-joined text, ``kind``, ``status``,
        ``tenure`` and other texts as objects (None when missing).

    Examples
    --------
    >>> import tempfile
    >>> from geodata.storage import Repository
    >>> repo = Repository(f"sqlite:///{tempfile.mkdtemp()}/catalogue.db")
    >>> repo.migrate()
    >>> with repo.connect() as conn:
    ...     columns = premises_columns(conn, ["surface_m2", "uses"])
    >>> {name: array.dtype.name for name, array in columns.items()}
    {'id': 'int64', 'surface_m2': 'float64', 'uses': 'object'}
    >>> repo.dispose()
    """
    wanted = [c.name for c in premises.c if c.name not in NOT_MATCHED] if names is None else names
    if ids is not None and refs is not None:
        msg = "ids, refs: give one or the other, not both"
        raise ValueError(msg)
    unknown = [n for n in wanted if n not in premises.c]
    if unknown:
        msg = f"names: unknown column(s) {unknown}; use columns of premises"
        raise ValueError(msg)
    columns = [premises.c.id, *(premises.c[n] for n in wanted if n != "id")]
    query = query if query is not None else PremisesQuery(limit=None)
    numeric = [
        c
        for c in columns
        if isinstance(c.type, sa.Integer | sa.Double | sa.Boolean) or c.name in _CODED
    ]
    other = [c for c in columns if c not in numeric]
    out: dict[str, np.ndarray] = {}
    # One statement (one snapshot, so the arrays stay aligned under concurrent writes).
    # Numbers, and enumerations as their position, come first and go to one 2-D float array
    # (None becomes NaN) that numpy converts in C: no type processing per value.
    selected = [_coded(c) if c.name in _CODED else c for c in numeric]
    stmt = select_premises(conn, query, *selected, *other)
    if ids is None and refs is None:
        rows = _fetch(conn, stmt)
    else:
        if refs is not None:
            # References are bound as parameters (texts are not written into the SQL).
            wanted = sorted({str(r) for r in refs if r})
            found = sa.select(premises.c.id).where(
                premises.c.external_ref.in_(sa.bindparam("r", expanding=True))
            )
            if for_update:
                found = found.with_for_update()
            ids = [
                i
                for chunk in co.chunks(wanted)
                for i in conn.execute(found, {"r": list(chunk)}).scalars()
            ]
        keys = sorted({int(i) for i in ids or ()})
        if for_update and refs is None:
            locked = sa.select(premises.c.id).where(
                premises.c.id.in_(sa.bindparam("k", expanding=True))
            )
            for chunk in co.chunks(keys):
                conn.execute(locked.with_for_update(), {"k": list(chunk)}).all()
        # In the caller's transaction: the slices read one state of the catalogue, by id.
        rows = [
            row
            for chunk in co.chunks(keys)
            for row in _fetch(conn, stmt.where(premises.c.id.in_(chunk)))
        ]
        if len(keys) > co.CHUNK:
            rows.sort(key=itemgetter(0))  # the id is selected first (a number)
    k = len(numeric)
    # The rows as one 2-D object array (in C), whose numeric part numpy casts in one go.
    table = np.array(rows, dtype=object).reshape(-1, len(columns))
    block = table[:, :k].astype(np.float64)
    for i, column in enumerate(numeric):
        out[column.name] = _numeric_array(column, block[:, i])
    for j, column in enumerate(other, start=k):
        out[column.name] = _other_array(column, table[:, j])
    return {c.name: out[c.name] for c in columns}


def _coded(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """The position of an enumeration's value, computed by the database."""
    members = {e.value: i for i, e in enumerate(_CODED[column.name])}
    return sa.case(members, value=column).label(column.name)


def _fetch(conn: Connection, stmt: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them (plain tuples), in the caller's transaction."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _numeric_array(column: sa.Column[Any], values: np.ndarray) -> np.ndarray:
    """One column of the float block in its type (see :func:`premises_columns`)."""
    if column.name == "uses":
        return uses_text(values.astype(np.int64))
    if column.name in _CODED:
        names = np.array([e.value for e in _CODED[column.name]] + [None], dtype=object)
        codes = np.where(np.isnan(values), len(names) - 1, values).astype(np.int64)
        return names[codes]
    if isinstance(column.type, sa.Boolean):
        if column.nullable:
            flags = np.full(len(values), None, dtype=object)
            known = ~np.isnan(values)
            flags[known] = values[known] != 0
            return flags
        return values != 0
    if isinstance(column.type, sa.Integer) and not column.nullable:
        return values.astype(np.int64)
    return values


def _other_array(column: sa.Column[Any], values: np.ndarray) -> np.ndarray:
    """One column of dates or texts (see :func:`premises_columns`), as a new array."""
    if isinstance(column.type, UTCDateTime | sa.Date):
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, datetime) and sample.tzinfo is not None:
            # Aware timestamps (PostgreSQL's driver): to UTC, then naive.
            import pandas as pd

            parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
            return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        # ISO text (SQLite), dates or naive UTC timestamps: numpy parses them in C.
        return np.array(values, dtype="datetime64[us]")
    return np.array(values, dtype=object)


def premises_frame(conn: Connection, query: PremisesQuery | None = None) -> gpd.GeoDataFrame:
    """Return every listing as a GeoDataFrame of points (EPSG:4326), indexed by id.

    Built from one query and vectorised: columns carry the table's names and values
    (``uses`` as its comma-joined string, ``photos`` and ``footprint`` as JSON text),
    numbers as ``float64`` / ``Int64``, flags as ``bool`` / ``boolean``, texts as pandas'
    ``str`` dtype (missing values are NaN), dates and timestamps as ``datetime64[us]``
    (timestamps in UTC).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    query : PremisesQuery, optional
        The listings to keep and their order (default: all of them, by id).
    """
    import pandas as pd

    import geopandas as gpd
    import shapely

    columns: list[sa.ColumnElement[Any]] = [
        # Skip the per-row date parsing of the SQLite driver: pandas parses whole columns.
        sa.type_coerce(c, sa.String).label(c.name)
        if isinstance(c.type, sa.Date | UTCDateTime)
        else c
        for c in premises.c
    ]
    query = query if query is not None else PremisesQuery(limit=None)
    stmt = select_premises(conn, query, *columns)
    rows = conn.execute(stmt).all()
    values: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else []
    if not values:
        values = [() for _ in premises.c]
    data = {c.name: _column_values(c, v) for c, v in zip(premises.c, values, strict=True)}
    index = pd.Index(data.pop("id"), name="id")
    frame = pd.DataFrame(data, index=index)
    points = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")


def uses_text(masks: np.ndarray) -> np.ndarray:
    """Return the comma-joined uses of stored bitmasks (decoded once per distinct mask).

    Examples
    --------
    >>> uses_text(np.array([3, 0, 3])).tolist()
    ['production,logistics', '', 'production,logistics']
    """
    distinct, inverse = np.unique(masks, return_inverse=True)
    names = np.array([",".join(cv.uses_of_mask(int(m))) for m in distinct], dtype=object)
    return names[inverse.reshape(-1)] if len(masks) else np.array([], dtype=object)


def _column_values(column: sa.Column[Any], values: Sequence[Any]) -> Any:
    """Turn one column of raw values into a typed array (see :func:`premises_frame`)."""
    import pandas as pd

    kind = column.type
    if column.name == "uses":
        return pd.array(uses_text(np.asarray(values, dtype=np.int64)), dtype=_text_dtype())
    if isinstance(kind, UTCDateTime):
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).dt.as_unit("us").array
    if isinstance(kind, sa.Date):
        return pd.to_datetime(pd.Series(values, dtype=object)).dt.as_unit("us").array
    if isinstance(kind, sa.Boolean):
        if column.nullable:
            return pd.array(values, dtype="boolean")
        return np.asarray(values, dtype=bool)
    if isinstance(kind, sa.Integer):
        if column.nullable:
            return pd.array(values, dtype="Int64")
        return np.asarray(values, dtype=np.int64)
    if isinstance(kind, sa.Double | sa.Float):
        return np.asarray(values, dtype=np.float64)
    return pd.array(list(values), dtype=_text_dtype())
