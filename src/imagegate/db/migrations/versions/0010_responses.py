"""Responses API answers kept for 24 hours (`GET /v1/responses/{id}`, `previous_response_id`); their
images are in the BlobStore under `responses/<id>/<item id>`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_responses_expires", "responses", ["expires_at"])
    op.create_index("ix_responses_account", "responses", ["account_id"])


def downgrade() -> None:
    op.drop_table("responses")
