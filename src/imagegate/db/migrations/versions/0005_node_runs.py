"""Node runs: each gateway process registers itself; holds and idempotency claims name their run.

A restarted node releases, at once, what its previous (dead) run held; see db/runs.py.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "node_runs",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("process_start", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
    )
    op.create_index("ix_node_runs_node", "node_runs", ["node_id"])
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("run_id", sa.String(40), nullable=True))
    op.create_index("ix_holds_run", "holds", ["run_id", "status"])
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("run_id", sa.String(40), nullable=True))
    op.create_index("ix_idempotency_run", "idempotency_keys", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_run", "idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("run_id")
    op.drop_index("ix_holds_run", "holds")
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("run_id")
    op.drop_index("ix_node_runs_node", "node_runs")
    op.drop_table("node_runs")
