"""Refunds name their hold: a job's refund before this was a plain balance entry, so `ledger verify`
could not tell that its failed job kept nothing. Each such entry (its reason names the job) gets the
job's hold and request; the hold becomes `refunded` and the request's usage record says how it ended
(503 `job_interrupted`, cost 0). Data only; refunds whose job is gone (deleted after 7 days) are left.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_LEGACY = "kind = 'refund' AND hold_id IS NULL"
_JOB_OF_ENTRY = "jobs.hold_id IS NOT NULL AND ledger_entries.reason = 'job ' || jobs.id || ': node stopped before keeping its result'"
_LINKED = "SELECT hold_id FROM ledger_entries WHERE kind = 'refund' AND hold_id IS NOT NULL"


def upgrade() -> None:
    op.execute(
        f"UPDATE ledger_entries SET "
        f"hold_id = (SELECT jobs.hold_id FROM jobs WHERE {_JOB_OF_ENTRY}), "
        f"request_id = (SELECT jobs.request_id FROM jobs WHERE {_JOB_OF_ENTRY}) "
        f"WHERE {_LEGACY} AND EXISTS (SELECT 1 FROM jobs WHERE {_JOB_OF_ENTRY})"
    )
    op.execute(f"UPDATE holds SET status = 'refunded' WHERE status = 'settled' AND id IN ({_LINKED})")
    op.execute(
        "UPDATE usage_records SET status = 503, error_code = 'job_interrupted', cost_micros = 0, delivered = 0 "
        f"WHERE id IN (SELECT request_id FROM holds WHERE status = 'refunded' AND id IN ({_LINKED}))"
    )


def downgrade() -> None:
    """The links stay (harmless to the previous release); the holds read `settled` again."""
    op.execute("UPDATE holds SET status = 'settled' WHERE status = 'refunded'")
