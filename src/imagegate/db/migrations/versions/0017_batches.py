"""The Batch API: uploaded JSONL files (`file-…`, their bytes in the BlobStore), batches and their
lines; each job says which surface it runs for (a batch line's usage record says `batch`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batch_files",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_batch_files_account", "batch_files", ["account_id", "id"])
    op.create_table(
        "batches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("key_mode", sa.String(8), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("input_file_id", sa.String(40), nullable=False),
        sa.Column("completion_window", sa.String(8), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("prices", sa.Text, nullable=False),
        sa.Column("quote_micros", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("output_file_id", sa.String(40), nullable=True),
        sa.Column("error_file_id", sa.String(40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("in_progress_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("finalizing_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.Column("expired_at", TS, nullable=True),
        sa.Column("cancelling_at", TS, nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("notified_at", TS, nullable=True),
        sa.Column("lease_until", TS, nullable=True),
    )
    op.create_index("ix_batches_account", "batches", ["account_id", "id"])
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_table(
        "batch_lines",
        sa.Column("batch_id", sa.String(40), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("custom_id", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("moved_at", TS, nullable=True),
    )
    op.create_index("ix_batch_lines_status", "batch_lines", ["batch_id", "status"])
    op.create_index("ix_batch_lines_job", "batch_lines", ["job_id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("surface", sa.String(16), nullable=False, server_default="job"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("surface")
    op.drop_index("ix_batch_lines_job", "batch_lines")
    op.drop_index("ix_batch_lines_status", "batch_lines")
    op.drop_table("batch_lines")
    op.drop_index("ix_batches_status", "batches")
    op.drop_index("ix_batches_account", "batches")
    op.drop_table("batches")
    op.drop_index("ix_batch_files_account", "batch_files")
    op.drop_table("batch_files")
