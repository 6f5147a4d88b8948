"""Budgets and alerts: a key's budget per day or month, each account's end-user budget, low-balance
threshold and alert webhook URL, and the spend rows that holds count against.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("budget_micros", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("budget_period", sa.String(8), nullable=True))
    op.create_table(
        "account_budgets",
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("user_budget_micros", sa.BigInteger, nullable=True),
        sa.Column("user_budget_period", sa.String(8), nullable=True),
        sa.Column("low_balance_micros", sa.BigInteger, nullable=True),
        sa.Column("low_balance_alerted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("webhook_url", sa.String(2048), nullable=True),
        sa.Column("webhook_version", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "budget_spend",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("budget_micros", sa.BigInteger, nullable=False),
        sa.Column("spent_micros", sa.BigInteger, nullable=False),
        sa.Column("held_micros", sa.BigInteger, nullable=False),
        sa.Column("reached_at", TS, nullable=True),
    )
    op.create_index("ix_budget_spend_subject", "budget_spend", ["account_id", "scope", "subject", "period_start"])
    op.create_table(
        "budget_holds",
        sa.Column("hold_id", sa.String(40), primary_key=True),
        sa.Column("spend_id", sa.String(40), primary_key=True),
    )
    op.create_index("ix_budget_holds_spend", "budget_holds", ["spend_id"])


def downgrade() -> None:
    op.drop_index("ix_budget_holds_spend", "budget_holds")
    op.drop_table("budget_holds")
    op.drop_index("ix_budget_spend_subject", "budget_spend")
    op.drop_table("budget_spend")
    op.drop_table("account_budgets")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("budget_period")
        batch.drop_column("budget_micros")
