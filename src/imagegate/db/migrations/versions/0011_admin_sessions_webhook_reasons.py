"""Revoked admin sessions (a logout ends the session on every node), and the coarse reason of a
webhook attempt (what the account sees; the detail stays the operator's).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "revoked_admin_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_revoked_admin_sessions_expiry", "revoked_admin_sessions", ["expires_at"])
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.add_column(sa.Column("reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.drop_column("reason")
    op.drop_index("ix_revoked_admin_sessions_expiry", "revoked_admin_sessions")
    op.drop_table("revoked_admin_sessions")
