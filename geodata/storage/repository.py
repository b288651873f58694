"""The catalogue store as one object: a thin facade over the storage function modules.

Each method opens one transaction and calls one storage function; to put several writes in
one transaction, call those functions on the connection :meth:`Repository.begin` yields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geodata.schemas import Need, NeedIn, Premises, PremisesCreate, Status
from geodata.storage import audit, catalogue, needs, premises, schema
from geodata.storage._common import HOOKS_OPTION, Page
from geodata.storage._dialects import WRITE_OPTION, DialectHooks, hooks_for
from geodata.storage._engine import dispose_engine, get_engine
from geodata.storage.audit import AuditEntry
from geodata.storage.catalogue import CatalogueChanges
from geodata.storage.premises import UpsertResult
from geodata.storage.query import PremisesQuery

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["Repository", "open_repository"]


class Repository:
    """Store and query the catalogue in the database named by a URL.

    One code path serves SQLite and PostGIS; the differences live in :class:`DialectHooks`.
    Every write is recorded in ``audit_log`` and, for edits, is a compare-and-set on the
    record's version. Each method is one transaction; :meth:`begin` opens one for several.

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

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """Open a write transaction and yield its connection; commit at the end, or roll back.

        On SQLite the write lock is taken up front, so concurrent writers wait rather than
        deadlock.

        Examples
        --------
        A listing and a need written together, or not at all::

            with repo.begin() as conn:
                premises.add_many_premises(conn, [listing], actor="alice")
                needs.add_many_needs(conn, [need], actor="alice")
        """
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True, HOOKS_OPTION: self.hooks})
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """Yield a connection for reads (on SQLite, one snapshot for every query inside)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{HOOKS_OPTION: self.hooks})
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the latest revision (see :func:`geodata.storage.schema.migrate`).

        A database already there is only read (no Alembic import, no write lock).
        """
        with self.connect() as conn:
            if schema.is_current(conn):
                return
        with self.begin() as conn:
            schema.migrate(conn)

    def dispose(self) -> None:
        """Close the pooled connections of this URL (the next call opens new ones)."""
        dispose_engine(self.url)

    # -- premises -------------------------------------------------------------------------

    def add_premises(self, item: PremisesCreate, *, actor: str) -> Premises:
        """Store a new listing at version 1 (see :func:`premises.add_many_premises`)."""
        return self.add_many_premises([item], actor=actor)[0]

    def add_many_premises(self, items: Sequence[PremisesCreate], *, actor: str) -> list[Premises]:
        """Store new listings, all or none (see :func:`premises.add_many_premises`)."""
        with self.begin() as conn:
            return premises.add_many_premises(conn, items, actor=actor)

    def upsert_premises_by_ref(
        self, items: Sequence[PremisesCreate], *, actor: str, **options: Any
    ) -> UpsertResult:
        """Create or update listings by reference (see :func:`premises.upsert_premises_by_ref`
        for its ``options``: ``expected_versions``, ``verified_at``)."""
        with self.begin() as conn:
            return premises.upsert_premises_by_ref(conn, items, actor=actor, **options)

    def update_premises(
        self, premises_id: int, item: PremisesCreate, *, expected_version: int, actor: str
    ) -> Premises:
        """Replace a listing at ``expected_version`` (see :func:`premises.update_premises`)."""
        with self.begin() as conn:
            return premises.update_premises(
                conn, premises_id, item, expected_version=expected_version, actor=actor
            )

    def patch_premises(
        self,
        premises_id: int,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        actor: str,
        context: dict[str, Any] | None = None,
    ) -> Premises:
        """Change some fields of a listing (see :func:`premises.patch_premises`)."""
        with self.begin() as conn:
            return premises.patch_premises(
                conn,
                premises_id,
                changes,
                expected_version=expected_version,
                actor=actor,
                context=context,
            )

    def set_status(
        self, premises_id: int, status: Status | str, *, expected_version: int, actor: str
    ) -> Premises:
        """Change the status of a listing (see :func:`premises.set_status`)."""
        with self.begin() as conn:
            return premises.set_status(
                conn, premises_id, status, expected_version=expected_version, actor=actor
            )

    def delete_premises(self, premises_id: int, *, expected_version: int, actor: str) -> None:
        """Delete a listing at ``expected_version`` (see :func:`premises.delete_premises`)."""
        with self.begin() as conn:
            premises.delete_premises(
                conn, premises_id, expected_version=expected_version, actor=actor
            )

    def get_premises(self, premises_id: int) -> Premises:
        """Return one listing (see :func:`premises.get_premises`)."""
        with self.connect() as conn:
            return premises.get_premises(conn, premises_id)

    def list_premises(
        self, query: PremisesQuery | None = None, /, **filters: Any
    ) -> Page[Premises]:
        """Return one page of the listings matching a :class:`PremisesQuery` or its fields.

        Raises
        ------
        ValueError
            Naming the field of a bad filter (see :meth:`PremisesQuery.parse`).
        """
        with self.connect() as conn:
            return premises.list_premises(conn, _query(query, filters))

    def count_premises(self, query: PremisesQuery | None = None, /, **filters: Any) -> int:
        """Count the listings matching a :class:`PremisesQuery` or its fields (page aside)."""
        with self.connect() as conn:
            return premises.count_premises(conn, _query(query, filters))

    def premises_by_refs(self, refs: Iterable[str]) -> dict[str, Premises]:
        """Return the listings with these references (see :func:`premises.premises_by_refs`)."""
        with self.connect() as conn:
            return premises.premises_by_refs(conn, refs)

    # -- whole catalogue ------------------------------------------------------------------

    def premises_frame(
        self, query: PremisesQuery | None = None, /, **filters: Any
    ) -> gpd.GeoDataFrame:
        """Return the listings as a GeoDataFrame, all by default (see catalogue.premises_frame)."""
        defaults: dict[str, Any] = {"limit": None} if query is None else {}
        with self.connect() as conn:
            return catalogue.premises_frame(conn, _query(query, defaults | filters))

    def catalogue_version(self) -> int:
        """Return a number that grows with every transaction that changes premises."""
        with self.connect() as conn:
            return catalogue.catalogue_version(conn)

    def changes_since(self, version: int) -> CatalogueChanges:
        """Return the listings changed after ``version`` (see :func:`catalogue.changes_since`)."""
        with self.connect() as conn:
            return catalogue.changes_since(conn, version)

    def counts(self) -> dict[str, int]:
        """Return the number of stored listings and needs."""
        with self.connect() as conn:
            return catalogue.counts(conn)

    # -- needs and audit ------------------------------------------------------------------

    def add_need(self, item: NeedIn, *, actor: str) -> Need:
        """Store a company's need at version 1."""
        return self.add_many_needs([item], actor=actor)[0]

    def add_many_needs(self, items: Sequence[NeedIn], *, actor: str) -> list[Need]:
        """Store needs, all or nothing (see :func:`needs.add_many_needs`)."""
        with self.begin() as conn:
            return needs.add_many_needs(conn, items, actor=actor)

    def get_need(self, need_id: int) -> Need:
        """Return one need (see :func:`needs.get_need`)."""
        with self.connect() as conn:
            return needs.get_need(conn, need_id)

    def update_need(self, need_id: int, item: NeedIn, *, expected_version: int, actor: str) -> Need:
        """Replace a need at ``expected_version`` (see :func:`needs.update_need`)."""
        with self.begin() as conn:
            return needs.update_need(
                conn, need_id, item, expected_version=expected_version, actor=actor
            )

    def list_needs(
        self, *, active: bool | None = True, limit: int = 50, offset: int = 0
    ) -> Page[Need]:
        """Return one page of needs (see :func:`needs.list_needs`)."""
        with self.connect() as conn:
            return needs.list_needs(conn, active=active, limit=limit, offset=offset)

    def all_needs(self, *, active: bool | None = True) -> list[Need]:
        """Return every need, the active ones by default (see :func:`needs.all_needs`)."""
        with self.connect() as conn:
            return needs.all_needs(conn, active=active)

    def audit_trail(self, entity: str, entity_id: int) -> list[AuditEntry]:
        """Return the changes of one listing or need (see :func:`audit.audit_trail`)."""
        with self.connect() as conn:
            return audit.audit_trail(conn, entity, entity_id)


def _query(query: PremisesQuery | None, filters: dict[str, Any]) -> PremisesQuery:
    if query is None:
        return PremisesQuery.parse(**filters)
    if filters:
        return PremisesQuery.parse(**{**query.model_dump(exclude_unset=True), **filters})
    return query


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
