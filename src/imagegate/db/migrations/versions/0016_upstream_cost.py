"""Usage records carry what the request cost upstream (`upstream_cost_micros`, integer micro-USD) and
whether that is an estimate from the route's per-image figure rather than the upstream's reported
usage (`upstream_cost_estimated`): the margin report's cost side. Rows written before, and by a node
still on the previous release during a rolling upgrade, cost 0 and are not estimates (the defaults).
`upstream_cost_overrides` holds the operator's live items over the catalog's cost sheets (as
`price_cards` does for selling prices).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("upstream_cost_micros", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("upstream_cost_estimated", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "upstream_cost_overrides",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("route", sa.String(100), primary_key=True),
        sa.Column("item", sa.String(120), primary_key=True),
        sa.Column("micros", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("upstream_cost_overrides")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("upstream_cost_estimated")
        batch.drop_column("upstream_cost_micros")
