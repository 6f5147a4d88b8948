"""The PostgreSQL ledger's one-statement hold and settlement keep every guarantee of the unit they replace:
a hold never takes more than is available (under concurrency too), a settlement writes the same entries
and usage record, a hold that is no longer open or a capture larger than it changes nothing, and the
ledger verifies. Real PostgreSQL (a throwaway database), through the request path's runner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from imagegate.db.accounts import AccountsRepo
from imagegate.db.engine import create_engine, migrate
from imagegate.db.ledger import LedgerRepo
from imagegate.db.runner import runner_for
from imagegate.db.tables import accounts, holds, ledger_entries, usage_records
from imagegate.db.usage import UsageRecord


def usage(request_id: str, account_id: str, cost: int) -> UsageRecord:
    return UsageRecord(
        id=request_id,
        account_id=account_id,
        key_id="key_test",
        model="m",
        route="r",
        attempts=1,
        n=1,
        delivered=1 if cost else 0,
        size="1024x1024",
        quality=None,
        status=200 if cost else 502,
        error_code=None,
        cost_micros=cost,
        unit_price_micros=cost,
        latency_ms=5,
        user="someone",  # a reserved word in PostgreSQL as a column name
        surface="images",
        created_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("budgeted", [True, False], ids=["maybe-budgeted", "known-unbudgeted"])
def test_one_statement_hold_and_settle_keep_the_ledger(fresh_database: str, budgeted: bool) -> None:
    """On PostgreSQL the one-statement forms (with or without the budget part, in batches when known
    unbudgeted); on SQLite ledger.py's units or, known unbudgeted, the raw sqlite3 ones: the same rows."""

    async def scenario() -> None:
        engine = create_engine(fresh_database)
        await migrate(engine)
        runner = runner_for(engine)
        ledger = LedgerRepo(engine, runner, run_id="run_test")
        try:
            account = await AccountsRepo(engine, runner).create_account("pg")
            assert await ledger.adjust(account.id, 5_000, "topup", "funding")

            # more than is available: nothing taken, nothing written
            assert await ledger.take_hold(account.id, "req_big", 5_001, 60) is None

            # 20 concurrent holds of 1,000 on 5,000: exactly 5 succeed
            got = await asyncio.gather(*(ledger.take_hold(account.id, f"req_{i}", 1_000, 60) for i in range(20)))
            taken = [h for h in got if h is not None]
            assert len(taken) == 5

            # capture part of a hold, with its usage record: capture + release entries
            b = {"budgeted": budgeted}
            assert await ledger.settle(taken[0], 600, "image delivered", usage("req_0", account.id, 600), **b)
            # the same hold again: not open any more, nothing captured, no second usage record
            assert not await ledger.settle(taken[0], 600, "again", usage("req_0b", account.id, 600), **b)
            # a capture larger than the hold: refused, the hold stays open
            with pytest.raises(ValueError):
                await ledger.settle(taken[1], 1_001, "too much", **b)
            # a release with a usage record, and a release of a closed hold still records its usage
            assert await ledger.release(taken[1], usage("req_1", account.id, 0), **b)
            assert not await ledger.release(taken[1], usage("req_1b", account.id, 0), **b)
            # a full capture: no release entry
            assert await ledger.settle(taken[2], 1_000, "image delivered", **b)

            async with engine.connect() as conn:
                row = (await conn.execute(select(accounts).where(accounts.c.id == account.id))).one()
                kinds = [
                    (e.kind, e.amount_micros, e.held_delta_micros, e.reason)
                    for e in await conn.execute(
                        select(ledger_entries)
                        .where(ledger_entries.c.hold_id == taken[0])
                        .order_by(ledger_entries.c.kind)
                    )
                ]
                statuses = dict((await conn.execute(select(holds.c.id, holds.c.status))).all())
                first = (await conn.execute(select(holds).where(holds.c.id == taken[0]))).one()
                usages = {u.id: u for u in await conn.execute(select(usage_records))}
            assert (row.balance_micros, row.held_micros) == (5_000 - 1_600, 2_000)
            assert kinds == [
                ("capture", -600, -600, "image delivered"),
                ("hold", 0, 1_000, "hold"),
                ("release", 0, -400, "rest of the hold released"),
            ]
            assert [statuses[h] for h in taken] == ["settled", "released", "settled", "open", "open"]
            assert set(usages) == {"req_0", "req_1", "req_1b"}
            assert usages["req_0"].user == "someone" and usages["req_0"].cost_micros == 600
            assert first.expires_at - first.created_at == timedelta(seconds=60)  # the times as SQLAlchemy reads them
            assert abs(usages["req_0"].created_at - datetime.now(UTC)) < timedelta(minutes=1)
            checked, problems = await ledger.verify()
            assert (checked, problems) == (1, [])
        finally:
            await runner.aclose()
            await engine.dispose()

    asyncio.run(scenario())
