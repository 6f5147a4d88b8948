"""Idempotency keys are scoped by (account, key mode): a test key and a live key of one account never
replay each other's responses (issue 12, defect 3), on SQLite and PostgreSQL; and the migration that
introduced the scope keeps the rows it finds, each with the mode of the key that made it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from imagegate.db.engine import create_engine
from tests.conftest import Account, Gateway
from tests.support.migrations import alembic_upgrade, upgrade
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

BODY = {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "quality": "low"}
LOW_1024 = 6_000


def post(gateway: Gateway, key: str, idempotency_key: str) -> httpx.Response:
    return gateway.post_images(key, BODY, headers={"Idempotency-Key": idempotency_key})


def test_keys_of_two_modes_never_replay_each_other(gateway: Gateway, upstream: FakeOpenAI, account: Account) -> None:
    test_key = gateway.admin(lambda admin: admin.keys.create(account.id, test=True, models=None, rpm=None))["key"]

    preview = post(gateway, test_key, "order-scope-1")
    paid = post(gateway, account.key, "order-scope-1")
    assert preview.status_code == paid.status_code == 200, (preview.text, paid.text)
    assert "idempotent-replayed" not in paid.headers
    assert paid.json()["billing"]["amount_micros"] == LOW_1024
    assert len(upstream.requests) == 1  # the preview never reached the upstream; the live one did

    preview_again = post(gateway, test_key, "order-scope-1")
    paid_again = post(gateway, account.key, "order-scope-1")
    assert preview_again.headers["idempotent-replayed"] == paid_again.headers["idempotent-replayed"] == "true"
    assert preview_again.json() == preview.json() and preview_again.json()["billing"]["amount_micros"] == 0
    assert paid_again.json() == paid.json()
    assert len(upstream.requests) == 1
    assert gateway.balance(account.id) == (10_000_000 - LOW_1024, 0)


def test_a_live_key_first_never_hands_its_paid_image_to_a_test_key(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    test_key = gateway.admin(lambda admin: admin.keys.create(account.id, test=True, models=None, rpm=None))["key"]
    paid = post(gateway, account.key, "order-scope-2")
    preview = post(gateway, test_key, "order-scope-2")
    assert paid.status_code == preview.status_code == 200
    assert "idempotent-replayed" not in preview.headers
    assert preview.json()["billing"]["amount_micros"] == 0
    assert preview.json()["data"] != paid.json()["data"]


def test_two_live_keys_of_one_account_share_the_key_space(
    gateway: Gateway, upstream: FakeOpenAI, account: Account
) -> None:
    """The documented scope: a client that rotates its live key mid-retry still gets its replay."""
    other = gateway.admin(lambda admin: admin.keys.create(account.id, test=False, models=None, rpm=None))["key"]
    first = post(gateway, account.key, "order-scope-3")
    again = post(gateway, other, "order-scope-3")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(upstream.requests) == 1


ROWS_0002 = """
INSERT INTO accounts (id, name, currency, balance_micros, held_micros, disabled, created_at)
    VALUES ('acct_1', 'a', 'USD', 0, 0, false, '2026-11-27 10:00:00');
INSERT INTO api_keys (id, account_id, key_hash, prefix, mode, created_at) VALUES
    ('key_live', 'acct_1', 'h1', 'ig_live_x', 'live', '2026-11-27 10:00:00'),
    ('key_test', 'acct_1', 'h2', 'ig_test_x', 'test', '2026-11-27 10:00:00');
INSERT INTO usage_records (id, account_id, key_id, status, delivered, cost_micros, unit_price_micros,
    latency_ms, attempts, created_at) VALUES
    ('req_test', 'acct_1', 'key_test', 200, 1, 0, 0, 5, 1, '2026-11-27 10:00:00'),
    ('req_live', 'acct_1', 'key_live', 200, 1, 6000, 6000, 5, 1, '2026-11-27 10:00:00');
INSERT INTO idempotency_keys (account_id, key, body_hash, request_id, status, locked_until, expires_at,
    created_at) VALUES
    ('acct_1', 'k-test', 'b', 'req_test', 'done', '2026-11-27 10:00:00', '2026-11-28 10:00:00', '2026-11-27 10:00:00'),
    ('acct_1', 'k-live', 'b', 'req_live', 'done', '2026-11-27 10:00:00', '2026-11-28 10:00:00', '2026-11-27 10:00:00'),
    ('acct_1', 'k-running', 'b', 'req_gone', 'running', '2026-11-27 10:00:00', '2026-11-28 10:00:00', '2026-11-27 10:00:00');
"""


def test_migration_0004_keeps_every_row_with_the_mode_of_its_key(fresh_database: str) -> None:
    upgrade(fresh_database, "0002")

    async def seed_and_read(upgrade_to: str | None) -> list[tuple[str, str, str]]:
        engine = create_engine(fresh_database)
        try:
            async with engine.begin() as conn:
                for statement in filter(str.strip, ROWS_0002.split(";")):
                    await conn.execute(text(statement))
            if upgrade_to:
                async with engine.begin() as conn:
                    await conn.run_sync(alembic_upgrade, upgrade_to)
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT key, mode, request_id FROM idempotency_keys ORDER BY key"))
                return [tuple(r) for r in rows]
        finally:
            await engine.dispose()

    rows = asyncio.run(seed_and_read("head"))
    assert rows == [("k-live", "live", "req_live"), ("k-running", "live", "req_gone"), ("k-test", "test", "req_test")]


def test_the_models_table_matches_the_migrated_schema_for_idempotency(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
    upgrade(url, "head")
    with sqlite3.connect(tmp_path / "schema.db") as conn:
        pk = [
            row[1] for row in sorted(conn.execute("PRAGMA table_info(idempotency_keys)"), key=lambda r: r[5]) if row[5]
        ]
    assert pk == ["account_id", "mode", "key"]
