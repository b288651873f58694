"""Whether the owner publishes a listing's contact to every reader (false for existing ones).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``premises.contact_public``; listings stored before keep their contact private."""
    # A plain ADD COLUMN on both backends: a batch copy would drop SQLite's AUTOINCREMENT.
    op.add_column(
        "premises",
        sa.Column("contact_public", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop ``premises.contact_public``."""
    op.drop_column("premises", "contact_public")
