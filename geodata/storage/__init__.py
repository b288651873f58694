"""Storage of the catalogue on SQLite (embedded default) or PostgreSQL/PostGIS, chosen by URL.

The function modules :mod:`~geodata.storage.premises`, :mod:`~geodata.storage.needs`,
:mod:`~geodata.storage.audit`, :mod:`~geodata.storage.catalogue`,
:mod:`~geodata.storage.freshness`,
:mod:`~geodata.storage.accounts`, :mod:`~geodata.storage.contacts`,
:mod:`~geodata.storage.sessions`, :mod:`~geodata.storage.outbox`,
:mod:`~geodata.storage.outcomes`, :mod:`~geodata.storage.models`,
:mod:`~geodata.storage.photos` and
:mod:`~geodata.storage.schema` work on a connection the caller opened, so that several writes
form one transaction; :class:`Repository` is the facade that opens one per call.
"""

from geodata.storage import (
    accounts,
    audit,
    catalogue,
    contacts,
    freshness,
    models,
    needs,
    outbox,
    outcomes,
    photos,
    premises,
    schema,
    sessions,
)
from geodata.storage._common import Page
from geodata.storage._dialects import DialectHooks, PostgisHooks, SqliteHooks, register_hooks
from geodata.storage._engine import dispose_engine, get_engine
from geodata.storage.audit import AuditEntry
from geodata.storage.catalogue import CatalogueChanges
from geodata.storage.errors import (
    DuplicateRefError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)
from geodata.storage.premises import UpsertResult
from geodata.storage.query import PremisesQuery
from geodata.storage.repository import Repository, open_repository
from geodata.storage.schema import MIGRATIONS_DIR

__all__ = [
    "MIGRATIONS_DIR",
    "AuditEntry",
    "CatalogueChanges",
    "DialectHooks",
    "DuplicateRefError",
    "NotFoundError",
    "Page",
    "PostgisHooks",
    "PremisesQuery",
    "Repository",
    "SqliteHooks",
    "StaleVersionError",
    "StorageError",
    "UpsertResult",
    "accounts",
    "audit",
    "catalogue",
    "contacts",
    "dispose_engine",
    "freshness",
    "get_engine",
    "models",
    "needs",
    "open_repository",
    "outbox",
    "outcomes",
    "photos",
    "premises",
    "register_hooks",
    "schema",
    "sessions",
]
