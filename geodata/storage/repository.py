"""The catalogue store: premises, needs and their audit trail, on SQLite or PostGIS."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd
import shapely

from geodata.schemas import Need, NeedIn, Premises, PremisesIn, PremisesKind, Status, Use
from geodata.storage import _convert as cv
from geodata.storage._dialects import WRITE_OPTION, DialectHooks, hooks_for
from geodata.storage._engine import dispose_engine, get_engine
from geodata.storage._tables import (
    ENTITY_NEED,
    ENTITY_PREMISES,
    UTCDateTime,
    audit_log,
    catalogue_state,
    needs,
    premises,
)
from geodata.storage.errors import (
    DuplicateRefError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)

__all__ = [
    "MIGRATIONS_DIR",
    "AuditEntry",
    "Page",
    "Repository",
    "UpsertResult",
    "open_repository",
]

#: The Alembic scripts shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

_CHUNK = 500  # values per IN (...) list
# pandas 3 has a real string dtype (missing values are NaN); pandas 2 keeps objects.
_TEXT_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object
_ORDERABLE = frozenset(c.name for c in premises.c)

T = TypeVar("T")
_M = TypeVar("_M", Premises, Need)
BBox = tuple[float, float, float, float]


class Page(BaseModel, Generic[T]):
    """One page of a listing query, with the total number of matching records."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)


class UpsertResult(BaseModel):
    """Ids of the listings an upsert created, updated, and left as they were."""

    created: list[int] = Field(default_factory=list)
    updated: list[int] = Field(default_factory=list)
    unchanged: list[int] = Field(default_factory=list)


class AuditEntry(BaseModel):
    """One change to a listing or need: who, what, when, and the values before and after.

    ``changes`` is ``{field: [old, new]}`` for an update or status change, and the full record
    for a create (as created) or a delete (as it was).
    """

    id: int
    entity: Literal["premises", "need"]
    entity_id: int
    action: Literal["create", "update", "status", "delete"]
    version: int
    actor: str
    at: datetime
    changes: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _enum_value(enum: type[Use] | type[PremisesKind] | type[Status], value: str, name: str) -> str:
    try:
        return str(enum(value))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        msg = f"{name}: unknown value {value!r}; use one of {allowed}"
        raise ValueError(msg) from None


def _check_bbox(bbox: Sequence[float]) -> BBox:
    values = tuple(float(v) for v in bbox)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        msg = f"bbox: expected four finite numbers min_lon, min_lat, max_lon, max_lat, got {bbox}"
        raise ValueError(msg)
    min_lon, min_lat, max_lon, max_lat = values
    if min_lon > max_lon or min_lat > max_lat:
        msg = (
            f"bbox: ({min_lon}, {min_lat}, {max_lon}, {max_lat}) has a minimum above its maximum; "
            "the order is min_lon, min_lat, max_lon, max_lat"
        )
        raise ValueError(msg)
    return min_lon, min_lat, max_lon, max_lat


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        msg = f"limit, offset: must not be negative (got limit={limit}, offset={offset})"
        raise ValueError(msg)


def _audit_row(
    entity: str,
    entity_id: int,
    action: str,
    version: int,
    actor: str,
    at: datetime,
    changes: Mapping[str, Any] | str,
) -> dict[str, Any]:
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
    }


class Repository:
    """Store and query the catalogue in the database named by a URL.

    One code path serves SQLite and PostGIS; the differences live in :class:`DialectHooks`.
    Every write is one transaction, is recorded in ``audit_log`` and, for edits, is a
    compare-and-set on the record's version.

    Parameters
    ----------
    url : str
        ``sqlite:///path/to/file.db`` (the file and its folder are created on first use) or
        ``postgresql+psycopg://user@host:5432/dbname`` (PostGIS).
    hooks : DialectHooks, optional
        Override the dialect hooks chosen from the URL.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> repo = Repository(f"sqlite:///{folder}/catalogue.db")
    >>> repo.migrate()
    >>> repo.counts()
    {'premises': 0, 'needs': 0}
    >>> repo.dispose()
    """

    def __init__(self, url: str, *, hooks: DialectHooks | None = None) -> None:
        self.url = url
        self.hooks = hooks if hooks is not None else hooks_for(url)

    def __repr__(self) -> str:
        return f"Repository({sa.make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        """The engine shared by every repository on this URL."""
        return get_engine(self.url)

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """Open a write transaction (on SQLite it takes the write lock up front)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """Open a read-only transaction: every query inside sees one snapshot."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _guard(self, rows: Sequence[Mapping[Any, Any]], ids: Sequence[int] = ()) -> Iterator[None]:
        """Turn integrity and data errors of premises writes into messages that say what to do."""
        try:
            yield
        except sa.exc.IntegrityError as exc:
            refs = [r["external_ref"] for r in rows if r.get("external_ref")]
            twice = [ref for ref, n in Counter(refs).items() if n > 1]
            if twice:
                raise DuplicateRefError(twice, "appears more than once in the batch") from exc
            taken = [
                ref for ref, item in self.premises_by_refs(refs).items() if item.id not in set(ids)
            ]
            if taken:
                raise DuplicateRefError(taken, "is already used by a stored listing") from exc
            msg = f"the database refused the change: {exc.orig}; check the values and try again"
            raise StorageError(msg) from exc
        except sa.exc.DataError as exc:
            msg = (
                f"the database cannot store a value: {exc.orig}; check that numbers are within "
                "range and texts contain no NUL character"
            )
            raise StorageError(msg) from exc

    @staticmethod
    def _audit(conn: Connection, entries: list[dict[str, Any]]) -> None:
        if entries:
            conn.execute(sa.insert(audit_log), entries)

    @staticmethod
    def _bump_catalogue(conn: Connection, now: datetime) -> None:
        conn.execute(
            sa.update(catalogue_state)
            .where(catalogue_state.c.id == 1)
            .values(version=catalogue_state.c.version + 1, updated_at=now)
        )

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (safe to run again, and concurrently).

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
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self._write() as conn:
            self.hooks.lock_for_migration(conn)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def dispose(self) -> None:
        """Close the pooled connections of this URL (the next call opens new ones)."""
        dispose_engine(self.url)

    # -- premises: writes -----------------------------------------------------------------

    def add_premises(self, item: PremisesIn, *, actor: str) -> Premises:
        """Store a new listing at version 1.

        Parameters
        ----------
        item : PremisesIn
            The validated listing.
        actor : str
            Who creates it (recorded in the audit log).

        Returns
        -------
        Premises
            The stored listing with its id, version and timestamps.

        Raises
        ------
        DuplicateRefError
            When its ``external_ref`` is already used.
        """
        return self.add_many_premises([item], actor=actor)[0]

    def add_many_premises(self, items: Sequence[PremisesIn], *, actor: str) -> list[Premises]:
        """Store new listings in one transaction: all of them, or none when one is refused.

        Parameters
        ----------
        items : sequence of PremisesIn
            The validated listings.
        actor : str
            Who creates them.

        Returns
        -------
        list of Premises
            The stored listings, in the order given.

        Raises
        ------
        DuplicateRefError
            When an ``external_ref`` appears twice in the batch or is already stored; nothing
            is written.
        """
        if not items:
            return []
        now = _now()
        rows = [cv.premises_row(item) for item in items]
        with self._guard(rows), self._write() as conn:
            records = self._insert_premises(conn, rows, actor=actor, now=now)
            self._bump_catalogue(conn, now)
        return records

    def _insert_premises(
        self, conn: Connection, rows: list[dict[str, Any]], *, actor: str, now: datetime
    ) -> list[Premises]:
        return self._insert(
            conn, premises, ENTITY_PREMISES, cv.premises_from_row, rows, actor=actor, now=now
        )

    def _insert(
        self,
        conn: Connection,
        table: sa.Table,
        entity: str,
        from_row: Callable[[dict[str, Any]], _M],
        rows: list[dict[str, Any]],
        *,
        actor: str,
        now: datetime,
    ) -> list[_M]:
        """Insert new records at version 1 and audit their creation."""
        full = [{**row, "version": 1, "created_at": now, "updated_at": now} for row in rows]
        ids = self.hooks.insert_many(conn, table, full)
        records = [from_row({**r, "id": i}) for r, i in zip(full, ids, strict=True)]
        self._audit(
            conn,
            [
                _audit_row(entity, r.id, "create", 1, actor, now, r.model_dump_json())
                for r in records
            ],
        )
        return records

    def upsert_premises_by_ref(
        self,
        items: Sequence[PremisesIn],
        *,
        actor: str,
        expected_versions: Mapping[str, int] | None = None,
    ) -> UpsertResult:
        """Create or update listings by their ``external_ref``, in one transaction.

        A listing whose reference is stored replaces the stored one (version + 1, audited)
        when something differs, and is left alone (same version) otherwise. Listings without a
        reference, or with a new one, are created. Fields are replaced, not merged: a field
        left empty clears the stored value, and ``status`` takes the item's value.

        Parameters
        ----------
        items : sequence of PremisesIn
            The validated listings.
        actor : str
            Who imports them.
        expected_versions : mapping of str to int, optional
            For references whose items were built from stored values, the version those
            values were read at: if a listing changed since, nothing is written.

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
        rows = [cv.premises_row(item) for item in items]
        refs = [r["external_ref"] for r in rows if r["external_ref"]]
        twice = [ref for ref, n in Counter(refs).items() if n > 1]
        if twice:
            raise DuplicateRefError(twice, "appears more than once in the batch")
        result = UpsertResult()
        if not rows:
            return result
        now = _now()
        with self._guard(rows), self._write() as conn:
            stored = {
                row["external_ref"]: row for row in self._rows_by_refs(conn, refs, for_update=True)
            }
            for ref, expected in (expected_versions or {}).items():
                old_row = stored.get(ref)
                if old_row is not None and old_row["version"] != expected:
                    raise StaleVersionError(
                        ENTITY_PREMISES, old_row["id"], expected, old_row["version"]
                    )
            to_insert: list[dict[str, Any]] = []
            to_update: list[dict[str, Any]] = []
            audits: list[dict[str, Any]] = []
            for row in rows:
                old = stored.get(row["external_ref"]) if row["external_ref"] else None
                if old is None:
                    to_insert.append(row)
                    continue
                diff = cv.premises_diff(old, row)
                if not diff:
                    result.unchanged.append(old["id"])
                    continue
                version = old["version"] + 1
                to_update.append({**row, "b_id": old["id"], "version": version, "updated_at": now})
                audits.append(
                    _audit_row(ENTITY_PREMISES, old["id"], "update", version, actor, now, diff)
                )
                result.updated.append(old["id"])
            if to_update:
                conn.execute(
                    sa.update(premises).where(premises.c.id == sa.bindparam("b_id")), to_update
                )
            self._audit(conn, audits)
            if to_insert:
                created = self._insert_premises(conn, to_insert, actor=actor, now=now)
                result.created.extend(r.id for r in created)
            if to_insert or to_update:
                self._bump_catalogue(conn, now)
        return result

    def update_premises(
        self, premises_id: int, item: PremisesIn, *, expected_version: int, actor: str
    ) -> Premises:
        """Replace a listing, provided it is still at ``expected_version``.

        Parameters
        ----------
        premises_id : int
            The listing.
        item : PremisesIn
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
        return self._replace_premises(premises_id, row, expected_version, actor, "update")

    def patch_premises(
        self,
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
        premises_id : int
            The listing.
        changes : mapping
            ``{field: new value}`` in the form :class:`PremisesIn` accepts.
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
            As :meth:`update_premises`.
        """
        current = self.get_premises(premises_id)
        if current.version != expected_version:
            raise StaleVersionError(ENTITY_PREMISES, premises_id, expected_version, current.version)
        merged = current.model_dump(include=set(cv.PREMISES_FIELDS))
        if "lon" in changes or "lat" in changes:
            for derived in ("commune_insee", "zone_id"):
                if derived not in changes:
                    merged[derived] = None
        merged.update(changes)
        item = PremisesIn.model_validate(merged, context=context)
        return self.update_premises(
            premises_id, item, expected_version=expected_version, actor=actor
        )

    def set_status(
        self, premises_id: int, status: Status | str, *, expected_version: int, actor: str
    ) -> Premises:
        """Mark a listing available, under offer, let, sold or withdrawn.

        Parameters
        ----------
        premises_id : int
            The listing.
        status : Status or str
            The new status.
        expected_version : int
            The version the caller read.
        actor : str
            Who changes it.

        Returns
        -------
        Premises
            The listing at version ``expected_version + 1``.

        Raises
        ------
        ValueError
            When ``status`` is not a :class:`Status`.
        NotFoundError, StaleVersionError
            As :meth:`update_premises`.
        """
        value = _enum_value(Status, str(status), "status")
        return self._replace_premises(
            premises_id, {"status": value}, expected_version, actor, "status"
        )

    def _replace_premises(
        self,
        premises_id: int,
        values: dict[str, Any],
        expected_version: int,
        actor: str,
        action: str,
    ) -> Premises:
        now = _now()
        with self._guard([values], [premises_id]), self._write() as conn:
            old = self._row(conn, premises, premises_id, ENTITY_PREMISES)
            new = {name: old[name] for name in cv.PREMISES_FIELDS} | values
            version = expected_version + 1
            self._compare_and_set(
                conn,
                sa.update(premises).values(**values, version=version, updated_at=now),
                premises,
                premises_id,
                ENTITY_PREMISES,
                expected_version,
            )
            diff = cv.premises_diff(old, new)
            self._audit(
                conn,
                [_audit_row(ENTITY_PREMISES, premises_id, action, version, actor, now, diff)],
            )
            self._bump_catalogue(conn, now)
        return cv.premises_from_row(
            {
                **new,
                "id": premises_id,
                "version": version,
                "created_at": old["created_at"],
                "updated_at": now,
            }
        )

    def delete_premises(self, premises_id: int, *, expected_version: int, actor: str) -> None:
        """Delete a listing, provided it is still at ``expected_version``.

        The audit log keeps the full record as it was, under version ``expected_version + 1``.

        Raises
        ------
        NotFoundError
            When the listing does not exist.
        StaleVersionError
            When it was changed since ``expected_version``; nothing is deleted.
        """
        now = _now()
        with self._write() as conn:
            old = self._row(conn, premises, premises_id, ENTITY_PREMISES)
            self._compare_and_set(
                conn, sa.delete(premises), premises, premises_id, ENTITY_PREMISES, expected_version
            )
            record = cv.premises_from_row(old).model_dump(mode="json")
            self._audit(
                conn,
                [
                    _audit_row(
                        ENTITY_PREMISES,
                        premises_id,
                        "delete",
                        expected_version + 1,
                        actor,
                        now,
                        record,
                    )
                ],
            )
            self._bump_catalogue(conn, now)

    @staticmethod
    def _row(conn: Connection, table: sa.Table, entity_id: int, entity: str) -> Mapping[Any, Any]:
        row = conn.execute(sa.select(table).where(table.c.id == entity_id)).mappings().first()
        if row is None:
            raise NotFoundError(entity, entity_id)
        return row

    @staticmethod
    def _compare_and_set(
        conn: Connection,
        stmt: sa.Update | sa.Delete,
        table: sa.Table,
        entity_id: int,
        entity: str,
        expected: int,
    ) -> None:
        """Run an UPDATE or DELETE on one row only if it is still at version ``expected``.

        Raises
        ------
        NotFoundError
            When the row does not exist.
        StaleVersionError
            When it is at another version; nothing is written.
        """
        done = conn.execute(stmt.where(table.c.id == entity_id, table.c.version == expected))
        if done.rowcount == 1:
            return
        current = conn.execute(
            sa.select(table.c.version).where(table.c.id == entity_id)
        ).scalar_one_or_none()
        if current is None:
            raise NotFoundError(entity, entity_id)
        raise StaleVersionError(entity, entity_id, expected, current)

    # -- premises: reads ------------------------------------------------------------------

    def get_premises(self, premises_id: int) -> Premises:
        """Return one listing.

        Raises
        ------
        NotFoundError
            When it does not exist.
        """
        with self._read() as conn:
            return cv.premises_from_row(self._row(conn, premises, premises_id, ENTITY_PREMISES))

    def _filters(
        self,
        *,
        commune: str | None = None,
        kind: str | None = None,
        use: str | None = None,
        min_surface_m2: float | None = None,
        max_surface_m2: float | None = None,
        status: str | None = None,
        bbox: Sequence[float] | None = None,
    ) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if commune is not None:
            where.append(premises.c.commune_insee == commune.strip().upper())
        if kind is not None:
            where.append(premises.c.kind == _enum_value(PremisesKind, kind, "kind"))
        if use is not None:
            value = _enum_value(Use, use, "use")
            padded = sa.literal(",") + premises.c.uses + sa.literal(",")
            where.append(padded.like(sa.literal(f"%,{value},%")))
        if min_surface_m2 is not None:
            where.append(premises.c.surface_m2 >= min_surface_m2)
        if max_surface_m2 is not None:
            where.append(premises.c.surface_m2 <= max_surface_m2)
        if status is not None:
            where.append(premises.c.status == _enum_value(Status, status, "status"))
        if bbox is not None:
            where.append(self.hooks.bbox_filter(premises, _check_bbox(bbox)))
        return where

    def list_premises(
        self,
        *,
        commune: str | None = None,
        kind: str | None = None,
        use: str | None = None,
        min_surface_m2: float | None = None,
        max_surface_m2: float | None = None,
        status: str | None = None,
        bbox: Sequence[float] | None = None,
        limit: int = 50,
        offset: int = 0,
        order_by: str = "id",
    ) -> Page[Premises]:
        """Return one page of the listings matching every filter given.

        Parameters
        ----------
        commune : str, optional
            INSEE code.
        kind, use, status : str, optional
            Values of :class:`PremisesKind`, :class:`Use` (among the allowed uses) and
            :class:`Status`.
        min_surface_m2, max_surface_m2 : float, optional
            Total surface bounds, inclusive.
        bbox : tuple of float, optional
            ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84, edges included.
        limit, offset : int
            The page.
        order_by : str
            A column name, prefixed with ``-`` for descending order; ties are broken by id.

        Returns
        -------
        Page
            The listings and the total number matching.

        Raises
        ------
        ValueError
            For an unknown kind, use, status or column, or a malformed bbox.
        """
        _check_page(limit, offset)
        where = self._filters(
            commune=commune,
            kind=kind,
            use=use,
            min_surface_m2=min_surface_m2,
            max_surface_m2=max_surface_m2,
            status=status,
            bbox=bbox,
        )
        descending = order_by.startswith("-")
        column = order_by.lstrip("-")
        if column not in _ORDERABLE:
            msg = f"order_by: unknown column {column!r}; use one of {', '.join(sorted(_ORDERABLE))}"
            raise ValueError(msg)
        key = premises.c[column].desc() if descending else premises.c[column].asc()
        stmt = sa.select(premises).where(*where).order_by(key, premises.c.id).limit(limit)
        with self._read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(premises).where(*where)
            ).scalar_one()
            rows = conn.execute(stmt.offset(offset)).mappings().all()
        items = [cv.premises_from_row(row) for row in rows]
        return Page[Premises].model_construct(items=items, total=total, limit=limit, offset=offset)

    def count_premises(
        self,
        *,
        commune: str | None = None,
        kind: str | None = None,
        use: str | None = None,
        min_surface_m2: float | None = None,
        max_surface_m2: float | None = None,
        status: str | None = None,
        bbox: Sequence[float] | None = None,
    ) -> int:
        """Count the listings matching every filter given (the filters of :meth:`list_premises`)."""
        where = self._filters(
            commune=commune,
            kind=kind,
            use=use,
            min_surface_m2=min_surface_m2,
            max_surface_m2=max_surface_m2,
            status=status,
            bbox=bbox,
        )
        with self._read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(premises).where(*where)
                ).scalar_one()
            )

    @staticmethod
    def _rows_by_refs(
        conn: Connection, refs: Sequence[str], *, for_update: bool = False
    ) -> list[Mapping[Any, Any]]:
        rows: list[Mapping[Any, Any]] = []
        for chunk in _chunks(refs):
            stmt = sa.select(premises).where(premises.c.external_ref.in_(chunk))
            if for_update:
                stmt = stmt.with_for_update()
            rows.extend(conn.execute(stmt).mappings().all())
        return rows

    def premises_by_refs(self, refs: Iterable[str]) -> dict[str, Premises]:
        """Return the stored listings with these external references, keyed by reference.

        References that are not stored are absent from the result.
        """
        wanted = sorted({r for r in refs if r})
        with self._read() as conn:
            rows = self._rows_by_refs(conn, wanted)
        return {row["external_ref"]: cv.premises_from_row(row) for row in rows}

    def premises_frame(self, *, status: str | None = None) -> gpd.GeoDataFrame:
        """Return every listing as a GeoDataFrame of points (EPSG:4326), indexed by id.

        Built from one query and vectorised: columns carry the table's names and values
        (``uses`` as its comma-joined string, ``photos`` and ``footprint`` as JSON text),
        numbers as ``float64`` / ``Int64``, flags as ``bool`` / ``boolean``, texts as pandas'
        ``str`` dtype (missing values are NaN), dates and timestamps as ``datetime64[us]``
        (timestamps in UTC).

        Parameters
        ----------
        status : str, optional
            Keep only the listings with this status.
        """
        columns: list[sa.ColumnElement[Any]] = [
            # Skip the per-row date parsing of the SQLite driver: pandas parses whole columns.
            sa.type_coerce(c, sa.String).label(c.name)
            if isinstance(c.type, sa.Date | UTCDateTime)
            else c
            for c in premises.c
        ]
        stmt = sa.select(*columns).order_by(premises.c.id)
        if status is not None:
            stmt = stmt.where(premises.c.status == _enum_value(Status, status, "status"))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        values: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else []
        if not values:
            values = [() for _ in premises.c]
        data = {c.name: _column_values(c, v) for c, v in zip(premises.c, values, strict=True)}
        index = pd.Index(data.pop("id"), name="id")
        frame = pd.DataFrame(data, index=index)
        points = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        return gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")

    def catalogue_version(self) -> int:
        """Return a number that grows with every transaction that changes premises."""
        with self._read() as conn:
            version = conn.execute(
                sa.select(catalogue_state.c.version).where(catalogue_state.c.id == 1)
            ).scalar_one_or_none()
        return int(version or 0)

    # -- needs ----------------------------------------------------------------------------

    def add_need(self, item: NeedIn, *, actor: str) -> Need:
        """Store a company's need at version 1."""
        return self.add_many_needs([item], actor=actor)[0]

    def add_many_needs(self, items: Sequence[NeedIn], *, actor: str) -> list[Need]:
        """Store needs in one transaction, all or nothing; returned in the order given."""
        if not items:
            return []
        now = _now()
        rows = [cv.need_row(item) for item in items]
        with self._write() as conn:
            return self._insert(
                conn, needs, ENTITY_NEED, cv.need_from_row, rows, actor=actor, now=now
            )

    def get_need(self, need_id: int) -> Need:
        """Return one need.

        Raises
        ------
        NotFoundError
            When it does not exist.
        """
        with self._read() as conn:
            return cv.need_from_row(self._row(conn, needs, need_id, ENTITY_NEED))

    def update_need(self, need_id: int, item: NeedIn, *, expected_version: int, actor: str) -> Need:
        """Replace a need, provided it is still at ``expected_version``.

        Raises
        ------
        NotFoundError
            When the need does not exist.
        StaleVersionError
            When it was changed since ``expected_version``; nothing is written.
        """
        now = _now()
        row = cv.need_row(item)
        version = expected_version + 1
        with self._write() as conn:
            old = self._row(conn, needs, need_id, ENTITY_NEED)
            self._compare_and_set(
                conn,
                sa.update(needs).values(**row, version=version, updated_at=now),
                needs,
                need_id,
                ENTITY_NEED,
                expected_version,
            )
            before, after = json.loads(old["doc"]), json.loads(row["doc"])
            diff = {
                k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)
            }
            self._audit(
                conn, [_audit_row(ENTITY_NEED, need_id, "update", version, actor, now, diff)]
            )
        return cv.need_from_row(
            {
                **row,
                "id": need_id,
                "version": version,
                "created_at": old["created_at"],
                "updated_at": now,
            }
        )

    def list_needs(
        self, *, active: bool | None = True, limit: int = 50, offset: int = 0
    ) -> Page[Need]:
        """Return one page of needs, the active ones by default (``active=None``: all)."""
        _check_page(limit, offset)
        where = [] if active is None else [needs.c.active == active]
        with self._read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(needs).where(*where)
            ).scalar_one()
            rows = (
                conn.execute(
                    sa.select(needs).where(*where).order_by(needs.c.id).limit(limit).offset(offset)
                )
                .mappings()
                .all()
            )
        items = [cv.need_from_row(row) for row in rows]
        return Page[Need].model_construct(items=items, total=total, limit=limit, offset=offset)

    def all_needs(self, *, active: bool | None = True) -> list[Need]:
        """Return every need, the active ones by default (``active=None``: all), by id."""
        where = [] if active is None else [needs.c.active == active]
        with self._read() as conn:
            rows = (
                conn.execute(sa.select(needs).where(*where).order_by(needs.c.id)).mappings().all()
            )
        return [cv.need_from_row(row) for row in rows]

    # -- audit and counts -----------------------------------------------------------------

    def audit_trail(self, entity: str, entity_id: int) -> list[AuditEntry]:
        """Return the changes of one listing or need, oldest first.

        Parameters
        ----------
        entity : {"premises", "need"}
            The kind of record.
        entity_id : int
            Its id (the trail survives its deletion).
        """
        if entity not in (ENTITY_PREMISES, ENTITY_NEED):
            msg = f"entity: unknown value {entity!r}; use 'premises' or 'need'"
            raise ValueError(msg)
        with self._read() as conn:
            rows = (
                conn.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.entity == entity, audit_log.c.entity_id == entity_id)
                    .order_by(audit_log.c.id)
                )
                .mappings()
                .all()
            )
        return [
            AuditEntry.model_validate({**row, "changes": json.loads(row["changes"])})
            for row in rows
        ]

    def counts(self) -> dict[str, int]:
        """Return the number of stored listings and needs."""
        with self._read() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for name, table in (("premises", premises), ("needs", needs))
            }


def _column_values(column: sa.Column[Any], values: Sequence[Any]) -> Any:
    """Turn one column of raw values into a typed array (see :meth:`premises_frame`)."""
    kind = column.type
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


def open_repository(url: str, *, migrate: bool = False) -> Repository:
    """Return a :class:`Repository` on ``url``, migrating its schema first if asked.

    Parameters
    ----------
    url : str
        A SQLite or PostgreSQL URL (see :class:`Repository`).
    migrate : bool
        Run :meth:`Repository.migrate` before returning.
    """
    repo = Repository(url)
    if migrate:
        repo.migrate()
    return repo
