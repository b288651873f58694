"""Outcomes: what happened to each listing proposed for a need (shown … signed).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ("shown_at", "opened_at", "contacted_at", "visited_at", "rejected_at", "signed_at")


def upgrade() -> None:
    """Create ``outcomes`` (one row per need and listing) and its indexes."""
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("need_id", sa.Integer, nullable=False),
        sa.Column("premises_id", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("note", sa.Text),
        *(sa.Column(name, sa.DateTime(timezone=True)) for name in _WHEN),
        sa.Column("shown_rank", sa.Integer),
        sa.Column("shown_score", sa.Double),
        sa.Column("shown_model", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_outcomes_version_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_outcomes"),
        sa.UniqueConstraint("need_id", "premises_id", name="uq_outcomes_need_id_premises_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outcomes_premises_id", "outcomes", ["premises_id"])
    op.create_index("ix_outcomes_stage", "outcomes", ["stage"])


def downgrade() -> None:
    """Drop ``outcomes``."""
    op.drop_index("ix_outcomes_stage", table_name="outcomes")
    op.drop_index("ix_outcomes_premises_id", table_name="outcomes")
    op.drop_table("outcomes")
