"""An account's ledger history a page at a time (the admin pages, `imagegate ledger history`): entries
by account, in id order (ids sort by creation time). Replaces the index on the account alone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"])
    op.drop_index("ix_ledger_entries_account_id", "ledger_entries")


def downgrade() -> None:
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    op.drop_index("ix_ledger_entries_account_id_id", "ledger_entries")
