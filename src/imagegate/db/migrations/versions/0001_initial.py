"""Accounts, keys, holds, ledger, price cards, usage, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_micros", sa.BigInteger, nullable=False),
        sa.Column("held_micros", sa.BigInteger, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("held_micros >= 0 AND balance_micros - held_micros >= 0", name="ck_accounts_never_negative"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(24), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("allowed_models", sa.Text, nullable=True),
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("amount_micros", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_holds_open", "holds", ["status", "expires_at"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("amount_micros", sa.BigInteger, nullable=False),
        sa.Column("held_delta_micros", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("hold_id", sa.String(40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "price_cards",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("quality", sa.String(20), primary_key=True),
        sa.Column("size", sa.String(20), primary_key=True),
        sa.Column("micros", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("route", sa.String(100), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("delivered", sa.Integer, nullable=False),
        sa.Column("size", sa.String(20), nullable=True),
        sa.Column("quality", sa.String(20), nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("unit_price_micros", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("user", sa.String(256), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_usage_account_time", "usage_records", ["account_id", "created_at"])
    op.create_index("ix_usage_time", "usage_records", ["created_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_body", sa.Text, nullable=True),
        sa.Column("response_cost_micros", sa.BigInteger, nullable=True),
        sa.Column("locked_until", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_idempotency_expiry", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "usage_records",
        "price_cards",
        "ledger_entries",
        "holds",
        "api_keys",
        "accounts",
    ):
        op.drop_table(table)
