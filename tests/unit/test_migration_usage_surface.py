"""Migration 0008 gives every usage record a surface: the records of jobs the jobs table still has are
`job`, every other earlier record `images` (before it, every request came through the Images API)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from imagegate.db.engine import create_engine
from tests.support.migrations import alembic_upgrade

ROWS_0007 = """
INSERT INTO usage_records (id, account_id, key_id, status, delivered, cost_micros, unit_price_micros,
    latency_ms, attempts, created_at) VALUES
    ('req_sync', 'acct_1', 'key_1', 200, 1, 6000, 6000, 5, 1, '2026-11-30 10:00:00'),
    ('req_job', 'acct_1', 'key_1', 200, 1, 6000, 6000, 5, 1, '2026-11-30 10:00:00');
INSERT INTO jobs (id, account_id, key_id, key_mode, currency, request_id, operation, payload, billable,
    held_unit_micros, live_unit_micros, price_overrides, status, attempts, created_at, queue_expires_at) VALUES
    ('job_1', 'acct_1', 'key_1', 'live', 'USD', 'req_job', 'generate', '{}', true, 6000, 6000, '[]',
     'completed', 1, '2026-11-30 10:00:00', '2026-11-30 11:00:00')
"""


def test_earlier_records_are_images_and_those_of_jobs_job(fresh_database: str) -> None:
    async def migrate_and_read() -> dict[str, str]:
        engine = create_engine(fresh_database)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(alembic_upgrade, "0007")
                for statement in filter(str.strip, ROWS_0007.split(";")):
                    await conn.execute(text(statement))
            async with engine.begin() as conn:
                await conn.run_sync(alembic_upgrade, "head")
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT id, surface FROM usage_records"))
                return {str(row[0]): str(row[1]) for row in rows}
        finally:
            await engine.dispose()

    assert asyncio.run(migrate_and_read()) == {"req_sync": "images", "req_job": "job"}
