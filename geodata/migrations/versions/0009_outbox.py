"""The alerts outbox: notifications to accounts, and the webhook each account may set.

A notification is written in the same transaction as the listing change that caused it;
its webhook delivery state (attempts, next attempt, delivered, last error, given up) lives
on the same row, so a delivery is claimed and recorded by updating that row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``notifications`` and ``webhooks``."""
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("need_id", sa.Integer),
        sa.Column("premises_id", sa.Integer),
        sa.Column("premises_version", sa.Integer),
        sa.Column("score", sa.Double),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("gave_up_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.CheckConstraint("attempts >= 0", name="ck_notifications_attempts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notifications_recipient_id", "notifications", ["recipient", "id"])
    op.create_index("ix_notifications_next_attempt_at", "notifications", ["next_attempt_at"])
    op.create_index("ix_notifications_gave_up_at", "notifications", ["gave_up_at"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(120), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sa.UniqueConstraint("account", name="uq_webhooks_account"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    """Drop ``webhooks`` and ``notifications``."""
    op.drop_table("webhooks")
    op.drop_index("ix_notifications_gave_up_at", table_name="notifications")
    op.drop_index("ix_notifications_next_attempt_at", table_name="notifications")
    op.drop_index("ix_notifications_recipient_id", table_name="notifications")
    op.drop_table("notifications")
