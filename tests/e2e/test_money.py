"""Money under concurrency, crashes and client retries: exact to the micro-unit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import select

from imagegate.config import load_settings
from imagegate.db.engine import create_engine
from imagegate.db.tables import holds
from tests.conftest import Account, Gateway, start_gateway
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = pytest.mark.tier("in_process")

LOW_1024 = 6_000  # gpt-image-2 low 1024x1024, micros


def post_until_the_node_dies(gateway: Gateway, key: str) -> None:
    """A client whose request is in flight when its node is killed: it sees the connection drop."""
    with contextlib.suppress(httpx.TransportError):
        gateway.post_images(key, {"model": "gpt-image-2", "prompt": "x"})


def ledger_verify(gateway: Gateway) -> dict:
    return json.loads(gateway.cli("ledger", "verify", "--json"))


async def _fire(base_urls: list[str], key: str, count: int) -> list[int | str]:
    """`count` concurrent generations spread over the nodes; the status of each."""
    clients = [openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120) for url in base_urls]

    async def one(i: int) -> int | str:
        try:
            await clients[i % len(clients)].images.generate(model="gpt-image-2", prompt=f"race {i}", quality="low")
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code
        except openai.APIConnectionError as exc:
            return f"connection: {exc}"

    try:
        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        for client in clients:
            await client.close()


def test_two_nodes_one_account_bill_exactly_what_credit_covers(
    tmp_path: Path, upstream: FakeOpenAI, postgres_url: str
) -> None:
    """240 concurrent requests over two gateway processes on one PostgreSQL; credit covers 37 images."""
    covered, fired = 37, 240
    shared = {"IMAGEGATE_DATABASE_URL": postgres_url}
    node_a = start_gateway(tmp_path / "data", upstream, shared)
    node_b = start_gateway(tmp_path / "data", upstream, shared)
    try:
        account = node_a.new_account(f"{covered * LOW_1024 / 1_000_000:.6f}")
        statuses = asyncio.run(_fire([node_a.base_url, node_b.base_url], account.key, fired))

        assert statuses.count(200) == covered
        assert statuses.count(402) == fired - covered, sorted(set(map(str, statuses)))
        assert len(upstream.requests) == covered  # a refused request never reaches the upstream
        assert node_a.balance(account.id) == (0, 0)
        stored = list((tmp_path / "data" / "images").rglob("img_*.png"))
        assert len(stored) == covered
        usage = node_a.admin(lambda admin: admin.reports.usage(*_today(), account.id))
        assert usage["totals"] == {"requests": fired, "images": covered, "cost_micros": covered * LOW_1024}
        verdict = ledger_verify(node_a)
        assert verdict["ok"], verdict
    finally:
        node_a.process.stop()
        node_b.process.stop()


def _today():  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def test_ledger_verify_passes_after_every_kind_of_entry(gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = gateway.new_account("1")
    client = gateway.client(account.key)
    client.images.generate(model="gpt-image-2", prompt="a cat", n=2, quality="low")
    upstream.script({"kind": "server_error", "times": 3})
    with pytest.raises(openai.APIStatusError):
        client.images.generate(model="gpt-image-2", prompt="a cat")
    upstream.script({"kind": "fewer_images"})
    client.images.generate(model="gpt-image-2", prompt="a cat", n=3, quality="low")
    gateway.admin(lambda admin: admin.ledger.adjust_credit(account.id, "-0.25", "goodwill reversed"))

    assert gateway.balance(account.id) == (1_000_000 - 4 * LOW_1024 - 250_000, 0)
    assert ledger_verify(gateway)["ok"]


def open_hold_expiry(gateway: Gateway, account_id: str) -> datetime:
    """When the account's one open hold expires, as the database has it: what the sweeper compares
    with its clock."""

    async def read() -> datetime:
        engine = create_engine(load_settings(gateway.env).database.url)
        try:
            async with engine.connect() as conn:
                query = select(holds.c.expires_at).where(holds.c.account_id == account_id, holds.c.status == "open")
                return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_hold_left_by_a_dead_node_is_released_by_the_sweeper(
    tmp_path: Path, upstream: FakeOpenAI, own_database_url: str | None
) -> None:
    db = {"IMAGEGATE_DATABASE_URL": own_database_url} if own_database_url else {}
    # the deadline leaves the test time to see the hold and kill the node before the request would end
    short = {"IMAGEGATE_REQUEST_DEADLINE_SECONDS": "3", "IMAGEGATE_HOLD_TTL_SECONDS": "4", **db}
    doomed = start_gateway(tmp_path / "data", upstream, short)
    account = doomed.new_account("1")
    upstream.script({"kind": "hang", "seconds": 30, "times": 8})
    # 8 at once: on PostgreSQL their holds are taken in batches (one transaction for several)
    workers = [
        threading.Thread(target=post_until_the_node_dies, args=(doomed, account.key), daemon=True) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    upstream.wait_for_requests(8)
    assert doomed.balance(account.id) == (1_000_000, 8 * 53_000)
    doomed.process._proc.send_signal(signal.SIGKILL)  # the node dies mid-request, holding credit
    doomed.process.stop()
    for worker in workers:
        worker.join(10)

    survivor = start_gateway(tmp_path / "data", upstream, {**short, "IMAGEGATE_SWEEP_INTERVAL_SECONDS": "0.2"})
    try:
        deadline = time.monotonic() + 15
        while survivor.balance(account.id)[1] and time.monotonic() < deadline:
            time.sleep(0.2)  # polling the database for the sweeper's work, bounded
        assert survivor.balance(account.id) == (1_000_000, 0)
        assert ledger_verify(survivor)["ok"]
    finally:
        survivor.stop()


def _kill_while_holding(node: Gateway, account: Account, upstream: FakeOpenAI) -> None:
    """SIGKILL `node` while its request holds $0.053 of `account`'s $1 (the upstream hangs)."""
    upstream.reset()
    upstream.script({"kind": "hang", "seconds": 30})
    threading.Thread(target=post_until_the_node_dies, args=(node, account.key), daemon=True).start()
    upstream.wait_for_requests(1)
    node.process._proc.send_signal(signal.SIGKILL)
    node.process.stop()
    assert node.balance(account.id) == (1_000_000, 53_000)


def test_holds_sweep_command_releases_only_expired_holds(
    tmp_path: Path, upstream: FakeOpenAI, own_database_url: str | None
) -> None:
    # The database is this test's own: on one that another gateway shares, that node's sweeper (every
    # 15 s) can release the hold between its expiry and the `holds sweep`, which then finds nothing.
    db = {"IMAGEGATE_DATABASE_URL": own_database_url} if own_database_url else {}
    # Two dead nodes' holds, one that expires in 6 s and one in 10 minutes; the deadline (5 s) leaves the
    # test time to kill each node before its request would end and release its hold. One sweep after the
    # first has expired must release it and keep the other: no race with the clock (a sweep that has to
    # come before an expiry can lose it when a CLI start takes seconds, as it did at load 9).
    # Both nodes start before either holds anything (a node sweeps once as it starts), and under node ids
    # of their own (a node starting under the id of a dead run releases that run's holds at once).
    base = {"IMAGEGATE_REQUEST_DEADLINE_SECONDS": "5", "IMAGEGATE_SWEEP_INTERVAL_SECONDS": "3600", **db}
    expiring = start_gateway(
        tmp_path / "data",
        upstream,
        {**base, "IMAGEGATE_HOLD_TTL_SECONDS": "6", "IMAGEGATE_NODE_ID": f"expiring-{tmp_path.name}"},
    )
    lasting = start_gateway(
        tmp_path / "data",
        upstream,
        {**base, "IMAGEGATE_HOLD_TTL_SECONDS": "600", "IMAGEGATE_NODE_ID": f"lasting-{tmp_path.name}"},
    )
    soon, later = expiring.new_account("1"), lasting.new_account("1")
    _kill_while_holding(lasting, later, upstream)
    _kill_while_holding(expiring, soon, upstream)
    expires_at = open_hold_expiry(expiring, soon.id)

    give_up = time.monotonic() + 15
    while datetime.now(UTC) <= expires_at:  # the hold's own expiry, on the clock the sweep reads
        assert time.monotonic() < give_up, f"the hold's expiry {expires_at} is not within 15 s"
        time.sleep(0.05)
    assert json.loads(expiring.cli("holds", "sweep", "--json"))["released"] == 1
    assert expiring.balance(soon.id) == (1_000_000, 0)
    assert lasting.balance(later.id) == (1_000_000, 53_000)  # not expired: kept
    assert ledger_verify(expiring)["ok"]


def test_negative_adjustment_cannot_take_balance_below_zero(gateway: Gateway) -> None:
    account = gateway.new_account("1")
    result = gateway.admin(lambda admin: admin.ledger.adjust_credit(account.id, "-1", "zero it"))
    assert result["balance_micros"] == 0
    from imagegate.domain.errors import BalanceOutOfRange

    with pytest.raises(BalanceOutOfRange):
        gateway.admin(lambda admin: admin.ledger.adjust_credit(account.id, "-0.000001", "below zero"))
    assert gateway.balance(account.id) == (0, 0)
