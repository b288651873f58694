"""Whole-catalogue reads: its version, its counts, and every listing as one frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from geodata.schemas import Premises
from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._tables import ENTITY_PREMISES, UTCDateTime, audit_log, needs, premises
from geodata.storage.premises import select_premises
from geodata.storage.query import PremisesQuery

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CatalogueChanges",
    "catalogue_version",
    "changes_since",
    "counts",
    "premises_frame",
    "uses_text",
]

# pandas 3 has a real string dtype (missing values are NaN); pandas 2 keeps objects.
_TEXT_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


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


def catalogue_version(conn: Connection) -> int:
    """Return a number that grows with every transaction that changes premises."""
    return co.read_catalogue_version(conn)


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
    current = catalogue_version(conn)
    if version > current:
        msg = (
            f"version: {version} is ahead of the catalogue (at version {current}); the copy "
            "comes from another database or from before a restore: rebuild it"
        )
        raise ValueError(msg)
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
    upserted = [cv.premises_from_row(row) for row in rows]
    kept = {p.id for p in upserted}
    return CatalogueChanges(
        since=version,
        version=current,
        upserted=upserted,
        removed=[i for i in ids if i not in kept],
    )


def counts(conn: Connection) -> dict[str, int]:
    """Return the number of stored listings and needs."""
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        for name, table in (("premises", premises), ("needs", needs))
    }


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
    kind = column.type
    if column.name == "uses":
        return pd.array(uses_text(np.asarray(values, dtype=np.int64)), dtype=_TEXT_DTYPE)
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
    return pd.array(list(values), dtype=_TEXT_DTYPE)
