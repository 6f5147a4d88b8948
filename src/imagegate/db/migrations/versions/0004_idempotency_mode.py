"""Idempotency keys scoped by key mode: (account, mode, key), so a test key and a live key of one
account never replay each other's responses.

Rows are copied into a table with the new primary key (the portable way to change a primary key on
SQLite and PostgreSQL alike). Each copied row takes the mode of the key its request was made with,
found through its usage record; a row with none yet (a request still running during the upgrade)
is taken as live, the mode where a wrong replay costs money.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
COLUMNS = (
    "account_id, key, body_hash, request_id, status, response_status, response_body, "
    "response_cost_micros, locked_until, expires_at, created_at"
)
MODE_OF_ROW = (
    "COALESCE((SELECT k.mode FROM usage_records u JOIN api_keys k ON k.id = u.key_id "
    "WHERE u.id = i.request_id), 'live')"
)


def _create(name: str, with_mode: bool) -> None:
    # The default serves nodes still on the previous release during a rolling upgrade: their rows are live.
    mode = [sa.Column("mode", sa.String(8), primary_key=True, server_default="live")] if with_mode else []
    op.create_table(
        name,
        sa.Column("account_id", sa.String(40), primary_key=True),
        *mode,
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


def upgrade() -> None:
    _create("idempotency_keys_scoped", with_mode=True)
    op.execute(
        f"INSERT INTO idempotency_keys_scoped (mode, {COLUMNS}) "
        f"SELECT {MODE_OF_ROW}, {', '.join('i.' + c.strip() for c in COLUMNS.split(','))} FROM idempotency_keys i"
    )
    op.drop_index("ix_idempotency_expiry", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.rename_table("idempotency_keys_scoped", "idempotency_keys")
    op.create_index("ix_idempotency_expiry", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    """Back to one key space per account: where both modes used a key, the live row is kept."""
    _create("idempotency_keys_unscoped", with_mode=False)
    op.execute(
        f"INSERT INTO idempotency_keys_unscoped ({COLUMNS}) SELECT {COLUMNS} FROM idempotency_keys i "
        "WHERE i.mode = 'live' OR NOT EXISTS (SELECT 1 FROM idempotency_keys l "
        "WHERE l.account_id = i.account_id AND l.key = i.key AND l.mode = 'live')"
    )
    op.drop_index("ix_idempotency_expiry", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.rename_table("idempotency_keys_unscoped", "idempotency_keys")
    op.create_index("ix_idempotency_expiry", "idempotency_keys", ["expires_at"])
