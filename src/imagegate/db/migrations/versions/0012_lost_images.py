"""Usage records count the images the upstream made that the client never got (`lost_images`):
withheld by output screening, or made for a request that then failed. The operator paid for them
upstream; a margin report prices them at the route's upstream cost. Rows written before, and by a
node still on the previous release during a rolling upgrade, count none (the column's default).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("lost_images", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("lost_images")
