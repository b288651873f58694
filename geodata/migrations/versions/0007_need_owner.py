"""Needs get an owner: the company account whose saved search a need is.

The owner is also in the need's JSON document (with its alert threshold); the column lets
"my needs" be one indexed query. Needs stored before have no owner (staff manage them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``needs.owner_account`` and its index."""
    # A plain ADD COLUMN on both backends: a batch copy would drop SQLite's AUTOINCREMENT.
    op.add_column("needs", sa.Column("owner_account", sa.String(120), nullable=True))
    op.create_index("ix_needs_owner_account", "needs", ["owner_account"])


def downgrade() -> None:
    """Drop ``needs.owner_account``."""
    op.drop_index("ix_needs_owner_account", table_name="needs")
    op.drop_column("needs", "owner_account")
