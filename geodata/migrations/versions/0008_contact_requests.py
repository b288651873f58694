"""Contact requests: a company's message to a listing's owner, with the contact it reveals.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``contact_requests`` and its indexes."""
    op.create_table(
        "contact_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("premises_id", sa.Integer, nullable=False),
        sa.Column("need_id", sa.Integer),
        sa.Column("sender_account", sa.String(120), nullable=False),
        sa.Column("recipient_account", sa.String(120)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("contact_name", sa.String(120)),
        sa.Column("contact_email", sa.String(200)),
        sa.Column("contact_phone", sa.String(40)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_requests"),
        sqlite_autoincrement=True,
    )
    for column in ("premises_id", "sender_account", "recipient_account"):
        op.create_index(f"ix_contact_requests_{column}", "contact_requests", [column])


def downgrade() -> None:
    """Drop ``contact_requests``."""
    for column in ("premises_id", "sender_account", "recipient_account"):
        op.drop_index(f"ix_contact_requests_{column}", table_name="contact_requests")
    op.drop_table("contact_requests")
