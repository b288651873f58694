"""Outcomes keep the per-criterion utilities of the listing as it was shown.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``outcomes.shown_utilities`` (JSON text: criterion → utility; null: not recorded)."""
    # A plain ADD COLUMN on both backends: a batch copy would drop SQLite's AUTOINCREMENT.
    op.add_column("outcomes", sa.Column("shown_utilities", sa.Text))


def downgrade() -> None:
    """Drop ``outcomes.shown_utilities``."""
    op.drop_column("outcomes", "shown_utilities")
