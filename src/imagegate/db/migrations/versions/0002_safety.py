"""Rate limits per account and key, account safety additions, the safety audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("rpm", sa.Integer, nullable=True))
        batch.add_column(sa.Column("ipm", sa.Integer, nullable=True))
        batch.add_column(sa.Column("max_in_flight", sa.Integer, nullable=True))
        batch.add_column(sa.Column("safety", sa.Text, nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("ipm", sa.Integer, nullable=True))
    op.create_table(
        "safety_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("code", sa.String(40), nullable=True),
        sa.Column("prompt", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_safety_events_time", "safety_events", ["created_at"])
    op.create_index("ix_safety_events_account_time", "safety_events", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_table("safety_events")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("ipm")
    with op.batch_alter_table("accounts") as batch:
        for column in ("safety", "max_in_flight", "ipm", "rpm"):
            batch.drop_column(column)
