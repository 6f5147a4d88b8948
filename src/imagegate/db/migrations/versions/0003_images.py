"""The stored images: owner and URL expiry, for retention and owner deletes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("ext", sa.String(8), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("request_id", sa.String(40), nullable=True),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("size", sa.String(16), nullable=True),
    )
    op.create_index("ix_images_account", "images", ["account_id"])
    op.create_index("ix_images_expires", "images", ["expires_at"])


def downgrade() -> None:
    op.drop_table("images")
