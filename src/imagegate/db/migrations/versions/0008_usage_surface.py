"""Usage records say which API a request came through: `surface` (`images`, `chat`, `responses`,
`job`, `batch`).

Every request recorded before this came through the Images API, at once or as an async job. Records
of jobs still in the jobs table (a job's record has the submit's request id) are marked `job`; the
rest, and the rows a node still on the previous release writes during a rolling upgrade, are
`images` (the column's default), which for a job older than the jobs table keeps is the API its
request was sent to.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("surface", sa.String(16), nullable=False, server_default="images"))
    op.execute("UPDATE usage_records SET surface = 'job' WHERE id IN (SELECT request_id FROM jobs)")


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("surface")
