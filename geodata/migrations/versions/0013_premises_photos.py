"""Photos of listings: ``premises_photos`` (the images) and ``premises.gallery`` (their list).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``premises_photos`` and add ``premises.gallery`` (empty for existing listings)."""
    op.create_table(
        "premises_photos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("premises_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("alt", sa.String(300), nullable=False),
        sa.Column("alt_en", sa.String(300)),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position >= 0", name="ck_premises_photos_position"),
        sa.CheckConstraint("width > 0 AND height > 0", name="ck_premises_photos_size"),
        sa.ForeignKeyConstraint(
            ["premises_id"],
            ["premises.id"],
            ondelete="CASCADE",
            name="fk_premises_photos_premises_id",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_premises_photos"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_premises_photos_premises_id_position", "premises_photos", ["premises_id", "position"]
    )
    # A plain ADD COLUMN on both backends: a batch copy would drop SQLite's AUTOINCREMENT.
    op.add_column(
        "premises", sa.Column("gallery", sa.Text, nullable=False, server_default="[]")
    )


def downgrade() -> None:
    """Drop ``premises.gallery`` and ``premises_photos``."""
    op.drop_column("premises", "gallery")
    op.drop_index("ix_premises_photos_premises_id_position", table_name="premises_photos")
    op.drop_table("premises_photos")
