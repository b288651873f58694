"""Storage of the catalogue on SQLite (embedded default) or PostgreSQL/PostGIS, chosen by URL."""

from geodata.storage._dialects import DialectHooks, PostgisHooks, SqliteHooks, register_hooks
from geodata.storage._engine import dispose_engine, get_engine
from geodata.storage.errors import (
    DuplicateRefError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)
from geodata.storage.repository import (
    MIGRATIONS_DIR,
    AuditEntry,
    Page,
    Repository,
    UpsertResult,
    open_repository,
)

__all__ = [
    "MIGRATIONS_DIR",
    "AuditEntry",
    "DialectHooks",
    "DuplicateRefError",
    "NotFoundError",
    "Page",
    "PostgisHooks",
    "Repository",
    "SqliteHooks",
    "StaleVersionError",
    "StorageError",
    "UpsertResult",
    "dispose_engine",
    "get_engine",
    "open_repository",
    "register_hooks",
]
