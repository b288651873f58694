"""Ranking models: weights learned from outcomes, with their metrics; one may be promoted.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``ranking_models``."""
    op.create_table(
        "ranking_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("training_size", sa.Integer, nullable=False),
        sa.Column("n_needs", sa.Integer, nullable=False),
        sa.Column("weights", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("promoted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("promoted_at", sa.DateTime(timezone=True)),
        sa.Column("promoted_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_ranking_models"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ranking_models_promoted", "ranking_models", ["promoted"])


def downgrade() -> None:
    """Drop ``ranking_models``."""
    op.drop_index("ix_ranking_models_promoted", table_name="ranking_models")
    op.drop_table("ranking_models")
