"""A key's budget across two gateway processes on one PostgreSQL: the budget check and the hold are one
transaction on the database, so concurrent requests through both nodes spend exactly the budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

from imagegate.domain.budgets import Budget
from tests.conftest import start_gateway
from tests.e2e.test_money import LOW_1024, _fire, ledger_verify
from tests.upstreams.fake_openai import FakeOpenAI


def test_two_nodes_spend_exactly_a_keys_budget(tmp_path: Path, upstream: FakeOpenAI, postgres_url: str) -> None:
    covered, fired = 9, 48
    shared = {"IMAGEGATE_DATABASE_URL": postgres_url}
    node_a = start_gateway(tmp_path / "data", upstream, shared)
    node_b = start_gateway(tmp_path / "data", upstream, shared)
    try:
        account = node_a.new_account("10")
        node_a.admin(lambda admin: admin.keys.set_budget(account.key_id, Budget(covered * LOW_1024, "day")))
        statuses = asyncio.run(_fire([node_a.base_url, node_b.base_url], account.key, fired))

        assert statuses.count(200) == covered
        assert statuses.count(402) == fired - covered, sorted(set(map(str, statuses)))
        assert len(upstream.requests) == covered
        assert node_a.balance(account.id) == (10_000_000 - covered * LOW_1024, 0)
        budget = node_a.admin(lambda admin: admin.keys.get(account.key_id))["budget"]
        assert (budget["spent_micros"], budget["held_micros"]) == (covered * LOW_1024, 0)
        assert ledger_verify(node_a)["ok"]
    finally:
        node_a.process.stop()
        node_b.process.stop()
