"""Batched holds and settlements on PostgreSQL (group commit) answer each caller exactly as if the
operations had run one by one in arrival order: K holds granted for credit of exactly K, a refused big
hold that does not refuse a later small one, and a settlement batch mixing open, expired and settled
holds; two nodes racing on one account never hold more than it has. Real PostgreSQL, the request
path's runner, `ledger verify` after each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from imagegate.db.accounts import AccountsRepo
from imagegate.db.clock import utcnow
from imagegate.db.engine import create_engine, migrate
from imagegate.db.ledger import LedgerRepo
from imagegate.db.runner import runner_for
from imagegate.db.tables import accounts, holds, ledger_entries, usage_records
from tests.unit.test_pg_ledger import usage


@asynccontextmanager
async def node(url: str) -> AsyncIterator[LedgerRepo]:
    """One gateway node's ledger: its own engine, pool and runner on the shared database."""
    engine = create_engine(url)
    runner = runner_for(engine)
    try:
        yield LedgerRepo(engine, runner, run_id="run_test")
    finally:
        await runner.aclose()
        await engine.dispose()


async def funded(url: str, micros: int) -> str:
    engine = create_engine(url)
    await migrate(engine)
    try:
        account = await AccountsRepo(engine).create_account("batch")
        assert await LedgerRepo(engine).adjust(account.id, micros, "topup", "funding")
        return account.id
    finally:
        await engine.dispose()


async def money(url: str, account_id: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).one()
        return row.balance_micros, row.held_micros
    finally:
        await engine.dispose()


def run(url: str, scenario: Callable[[str], Awaitable[None]]) -> None:
    asyncio.run(scenario(url))


def test_one_batch_grants_exactly_what_fits_in_arrival_order(postgres_url: str) -> None:
    async def scenario(url: str) -> None:
        account = await funded(url, 5_000)
        async with node(url) as ledger:
            # one batch (all arrive before the first flush): 3,000 fits, the second 3,000 does not,
            # then 1,500 and 500 still fit, and 1,000 no longer does
            amounts = [3_000, 3_000, 1_500, 500, 1_000]
            got = await asyncio.gather(*(ledger.take_hold(account, f"r{i}", a, 60) for i, a in enumerate(amounts)))
            assert [h is not None for h in got] == [True, False, True, True, False]
            assert await money(url, account) == (5_000, 5_000)

            # credit for exactly 7 of 40: 7 granted, 33 refused
            assert all([await ledger.release(h) for h in got if h is not None])
            assert await ledger.adjust(account, 2_000, "topup", "more")  # 7,000
            many = await asyncio.gather(*(ledger.take_hold(account, f"k{i}", 1_000, 60) for i in range(40)))
            assert sum(h is not None for h in many) == 7
            assert await money(url, account) == (7_000, 7_000)
            assert await ledger.verify() == (1, [])

    run(postgres_url, scenario)


def test_two_nodes_racing_on_one_account_hold_exactly_k(postgres_url: str) -> None:
    async def scenario(url: str) -> None:
        account = await funded(url, 11_000)
        async with node(url) as a, node(url) as b:

            async def wave(ledger: LedgerRepo, tag: str) -> list[str | None]:
                return list(
                    await asyncio.gather(*(ledger.take_hold(account, f"{tag}{i}", 1_000, 60) for i in range(32)))
                )

            first, second = await asyncio.gather(wave(a, "a"), wave(b, "b"))
            taken = [h for h in first + second if h is not None]
            assert len(taken) == 11
            # and the settlements of both nodes' holds, in batches, leave the money exact
            results = await asyncio.gather(
                *(
                    (a if i % 2 else b).settle(h, 400, "delivered", usage(f"u{i}", account, 400), budgeted=False)
                    for i, h in enumerate(taken)
                )
            )
            assert all(results)
            assert await money(url, account) == (11_000 - 11 * 400, 0)
            assert await a.verify() == (1, [])

    run(postgres_url, scenario)


def test_a_settlement_batch_answers_each_hold_as_before(postgres_url: str) -> None:
    async def scenario(url: str) -> None:
        account = await funded(url, 10_000)
        async with node(url) as ledger:
            ids = [await ledger.take_hold(account, f"r{i}", 1_000, 60) for i in range(6)]
            opened, partial, expired, settled, too_big, released = [h for h in ids if h is not None]
            assert await ledger.settle(settled, 1_000, "earlier", budgeted=False)
            engine = create_engine(url)
            async with engine.begin() as conn:  # past its expiry: the sweeper releases it
                await conn.execute(
                    holds.update().where(holds.c.id == expired).values(expires_at=utcnow() - timedelta(seconds=1))
                )
            await engine.dispose()
            assert await ledger.sweep_expired() == [expired]

            answers = await asyncio.gather(
                ledger.settle(opened, 1_000, "all of it", usage("u_open", account, 1_000), budgeted=False),
                ledger.settle(partial, 250, "part", usage("u_part", account, 250), budgeted=False),
                ledger.settle(expired, 1_000, "too late", usage("u_late", account, 1_000), budgeted=False),
                ledger.settle(settled, 1_000, "again", usage("u_again", account, 1_000), budgeted=False),
                ledger.settle(too_big, 1_001, "more than held", budgeted=False),
                ledger.release(released, usage("u_rel", account, 0), budgeted=False),
                ledger.release(released, usage("u_rel2", account, 0), budgeted=False),  # the same hold twice
                return_exceptions=True,
            )
            assert answers[:4] == [True, True, False, False]
            assert isinstance(answers[4], ValueError)
            assert sorted(answers[5:]) == [False, True]  # one of the two closed it, the other found it closed

            engine = create_engine(url)
            async with engine.connect() as conn:
                statuses = dict((await conn.execute(select(holds.c.id, holds.c.status))).all())
                recorded = set((await conn.execute(select(usage_records.c.id))).scalars())
                entries = (
                    await conn.execute(
                        select(
                            ledger_entries.c.kind, ledger_entries.c.amount_micros, ledger_entries.c.held_delta_micros
                        )
                        .where(ledger_entries.c.hold_id == partial)
                        .order_by(ledger_entries.c.kind)
                    )
                ).all()
            await engine.dispose()
            assert [statuses[h] for h in (opened, partial, expired, settled, too_big, released)] == [
                "settled",
                "settled",
                "expired",
                "settled",
                "open",
                "released",
            ]
            # a capture that found no open hold records nothing; both releases record their usage
            assert recorded == {"u_open", "u_part", "u_rel", "u_rel2"}
            assert entries == [("capture", -250, -250), ("hold", 0, 1_000), ("release", 0, -750)]
            assert await money(url, account) == (10_000 - 2_250, 1_000)
            assert await ledger.verify() == (1, [])

    run(postgres_url, scenario)


def test_a_hold_whose_caller_left_is_given_back(postgres_url: str) -> None:
    async def scenario(url: str) -> None:
        account = await funded(url, 5_000)
        async with node(url) as ledger:
            kept = asyncio.ensure_future(ledger.take_hold(account, "kept", 1_000, 60))
            left = asyncio.ensure_future(ledger.take_hold(account, "left", 1_000, 60))
            await asyncio.sleep(0)  # both submitted; the flush has started
            left.cancel()
            assert await kept is not None
            with pytest.raises(asyncio.CancelledError):
                await left
            engine = create_engine(url)
            try:
                async with engine.connect() as conn:
                    status = select(holds.c.status).where(holds.c.request_id == "left")
                    for _ in range(500):  # the release runs in the background: wait for its commit
                        if (await conn.execute(status)).scalar_one_or_none() == "released":
                            break
                        await conn.rollback()
                        await asyncio.sleep(0.01)
                    assert (await conn.execute(status)).scalar_one() == "released"
            finally:
                await engine.dispose()
            assert await money(url, account) == (5_000, 1_000)
            assert await ledger.verify() == (1, [])

    run(postgres_url, scenario)


LOCK_ACCOUNT = text("SELECT id FROM accounts WHERE id = :id FOR UPDATE")


@asynccontextmanager
async def blocker_and_watcher(url: str) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
    """Two connections beside the nodes': one to hold an account's row lock (`LOCK_ACCOUNT`, released
    by its rollback), one to watch the sessions (`lock_waiters`)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as blocker, engine.connect() as watcher:
            yield blocker, watcher
    finally:
        await engine.dispose()


async def lock_waiters(conn: AsyncConnection, count: int) -> None:
    """Wait until `count` other sessions of this database wait for a row lock (at most 10 s)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(1_000):
        waiting = (await conn.execute(query)).scalar_one()
        await conn.rollback()  # pg_stat_activity is read once per transaction
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for a lock")


def test_two_nodes_batches_on_the_same_accounts_lock_them_in_one_order(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch moves the money of every account it names in one transaction, so two nodes' batches on
    the same accounts must lock them in one order (by id), whatever order their operations arrived
    in. Else node B's batch of holds, holding the first account and waiting for the second, and node
    A's batch of settlements, holding some later ones, wait for each other: PostgreSQL breaks the
    deadlock after a second, and the batch falls back to one statement per operation."""

    async def scenario(url: str) -> None:
        for round_ in range(3):
            contested = sorted([await funded(url, 1_000_000) for _ in range(12)])
            async with node(url) as a, node(url) as b:
                held = [await a.take_hold(acct, f"h{round_}{i}", 1_000, 60) for i, acct in enumerate(contested)]
                async with blocker_and_watcher(url) as (blocker, watcher):
                    await blocker.execute(LOCK_ACCOUNT, {"id": contested[1]})
                    # each node's operations, submitted together, go as one batch: B's holds
                    # take the first account and wait at the second, which the blocker holds
                    taking = asyncio.gather(
                        *(b.take_hold(acct, f"b{round_}{i}", 1_000, 60) for i, acct in enumerate(contested)),
                    )
                    await lock_waiters(watcher, 1)
                    settling = asyncio.gather(
                        *(a.settle(h, 300, "delivered", budgeted=False) for h in held),
                    )
                    await lock_waiters(watcher, 2)  # A's batch waits too: for the first account
                    await blocker.rollback()
                    taken, settled = await taking, await settling
                assert all(h is not None for h in taken)
                assert list(settled) == [True] * 12
                for acct in contested:
                    assert await money(url, acct) == (1_000_000 - 300, 1_000)
        assert not [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]

    run(postgres_url, scenario)


def test_a_batch_whose_connection_is_killed_fails_every_member_and_moves_no_money(postgres_url: str) -> None:
    """The server ends a batch's connection mid-transaction (a failover, an operator's kill): the
    whole batch rolls back, so every caller gets the database error (the request's 503) and no
    hold is taken or closed; the holds a killed settlement named stay open, and settle afterwards."""

    async def scenario(url: str) -> None:
        names = sorted([await funded(url, 100_000) for _ in range(4)])
        async with node(url) as ledger:
            held = [await ledger.take_hold(acct, f"h{i}", 1_000, 60) for i, acct in enumerate(names)]
            async with blocker_and_watcher(url) as (blocker, watcher):
                kill = text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                for batch in ("holds", "settlements"):
                    await blocker.execute(LOCK_ACCOUNT, {"id": names[1]})
                    if batch == "holds":
                        calls = [ledger.take_hold(acct, f"k{i}", 1_000, 60) for i, acct in enumerate(names)]
                    else:
                        calls = [ledger.settle(h, 300, "delivered", budgeted=False) for h in held if h]
                    waiting = asyncio.gather(*calls, return_exceptions=True)
                    await lock_waiters(watcher, 1)
                    assert (await watcher.execute(kill)).scalar_one() is True
                    await watcher.rollback()
                    answers = await waiting
                    await blocker.rollback()
                    assert [type(a).__name__ for a in answers] == ["OperationalError"] * 4, answers
                    for acct in names:
                        assert await money(url, acct) == (100_000, 1_000)
            # the holds are still open: their settlements, sent again, close them
            assert (
                await asyncio.gather(*(ledger.settle(h, 300, "again", budgeted=False) for h in held if h)) == [True] * 4
            )
            for acct in names:
                assert await money(url, acct) == (100_000 - 300, 0)
            assert await ledger.verify() == (4, [])

    run(postgres_url, scenario)
