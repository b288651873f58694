"""Store ``premises.uses`` as an integer bitmask, so that a filter on a use is exact.

The comma-joined text was filtered with ``LIKE``, where ``_`` matches any character and the
test depends on the separators being exactly those written by the application.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of geodata.storage._tables.USE_BITS at this revision.
_USE_BITS = {
    "production": 1,
    "logistics": 2,
    "craft": 4,
    "lab_rd": 8,
    "food_processing": 16,
    "construction": 32,
    "repair": 64,
}


def _check_sqlite(bind: sa.Connection) -> None:
    if bind.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        from geodata.storage.errors import StorageError

        msg = (
            f"SQLite {sqlite3.sqlite_version} cannot drop a column; this migration needs "
            "SQLite 3.35 or newer: use a Python built with a newer SQLite, then migrate again"
        )
        raise StorageError(msg)


def _mask(text: str, ids: list[int]) -> int:
    mask = 0
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        if name not in _USE_BITS:
            from geodata.storage.errors import StorageError

            msg = (
                f"uses: unknown value {name!r} in listing(s) {ids[:10]}; use one of "
                f"{', '.join(_USE_BITS)}: correct these listings, then migrate again"
            )
            raise StorageError(msg)
        mask |= _USE_BITS[name]
    return mask


def upgrade() -> None:
    """Add an integer column, fill it once per distinct text, drop the text, rename."""
    bind = op.get_bind()
    _check_sqlite(bind)
    op.execute("ALTER TABLE premises ADD COLUMN uses_bits INTEGER NOT NULL DEFAULT 0")
    groups: dict[str, list[int]] = {}
    for pid, text in bind.execute(sa.text("SELECT id, uses FROM premises ORDER BY id")):
        groups.setdefault(text or "", []).append(pid)
    update = sa.text("UPDATE premises SET uses_bits = :mask WHERE uses = :text")
    for text, ids in groups.items():
        mask = _mask(text, ids)
        if mask:
            bind.execute(update, {"mask": mask, "text": text})
    op.execute("ALTER TABLE premises DROP COLUMN uses")
    op.execute("ALTER TABLE premises RENAME COLUMN uses_bits TO uses")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE premises ALTER COLUMN uses DROP DEFAULT")


def downgrade() -> None:
    """Back to comma-joined text, in the order of the bits."""
    bind = op.get_bind()
    _check_sqlite(bind)
    op.execute("ALTER TABLE premises ADD COLUMN uses_text TEXT NOT NULL DEFAULT ''")
    masks = [m for (m,) in bind.execute(sa.text("SELECT DISTINCT uses FROM premises"))]
    update = sa.text("UPDATE premises SET uses_text = :text WHERE uses = :mask")
    for mask in masks:
        text = ",".join(name for name, bit in _USE_BITS.items() if mask & bit)
        if text:
            bind.execute(update, {"mask": mask, "text": text})
    op.execute("ALTER TABLE premises DROP COLUMN uses")
    op.execute("ALTER TABLE premises RENAME COLUMN uses_text TO uses")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE premises ALTER COLUMN uses DROP DEFAULT")
