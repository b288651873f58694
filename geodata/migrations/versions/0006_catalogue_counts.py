"""Keep the number of listings and needs on the catalogue state row.

``GET /health`` and the start-up check read the counts from this one row instead of a
``COUNT(*)`` over the tables (a full scan on PostgreSQL, 15-22 ms at 100k listings). The
storage functions keep them in the transaction of every insert and delete; this revision
fills them with the rows present.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``catalogue_state.premises_count`` and ``needs_count``, filled with the row counts."""
    for name in ("premises_count", "needs_count"):
        op.add_column(
            "catalogue_state",
            sa.Column(name, sa.BigInteger, nullable=False, server_default="0"),
        )
    op.execute(
        "UPDATE catalogue_state SET premises_count = (SELECT COUNT(*) FROM premises), "
        "needs_count = (SELECT COUNT(*) FROM needs)"
    )


def downgrade() -> None:
    """Drop the two counters."""
    for name in ("needs_count", "premises_count"):
        op.drop_column("catalogue_state", name)
