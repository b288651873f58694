"""Record on each audit row the catalogue version of the change.

An index built at catalogue version ``v`` can then be brought up to date from the listings
changed since ``v`` (``geodata.storage.catalogue.changes_since``) instead of rebuilt. Rows
written before this revision get the version current at migration time: a reader asking
for the changes since an older version gets them all (more than needed, never fewer).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``audit_log.catalogue_version``, filled with the current version, and its index."""
    bind = op.get_bind()
    current = bind.execute(sa.text("SELECT version FROM catalogue_state WHERE id = 1")).scalar()
    op.execute("ALTER TABLE audit_log ADD COLUMN catalogue_version BIGINT NOT NULL DEFAULT 0")
    bind.execute(sa.text("UPDATE audit_log SET catalogue_version = :v"), {"v": int(current or 0)})
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log ALTER COLUMN catalogue_version DROP DEFAULT")
    op.create_index(
        "ix_audit_log_entity_catalogue_version", "audit_log", ["entity", "catalogue_version"]
    )


def downgrade() -> None:
    """Drop the column and its index."""
    op.drop_index("ix_audit_log_entity_catalogue_version", table_name="audit_log")
    op.execute("ALTER TABLE audit_log DROP COLUMN catalogue_version")
