"""Budget spend rows move with the ledger, on SQLite and PostgreSQL through the request path's runner:
concurrent holds never take more than a budget (nor the account's credit), a release or an expiry gives
the budget back, a capture stays spent until a refund, and `verify` notices a spend row that disagrees."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from imagegate.db.accounts import AccountsRepo
from imagegate.db.budget_settings import BudgetsRepo
from imagegate.db.budgets import BudgetShort
from imagegate.db.engine import create_engine, migrate
from imagegate.db.ledger import LedgerRepo
from imagegate.db.runner import runner_for
from imagegate.db.tables import budget_spend
from imagegate.domain.budgets import Budget, BudgetClaim, period_start


def test_spend_rows_follow_every_end_of_a_hold(fresh_database: str) -> None:
    async def scenario() -> None:
        engine = create_engine(fresh_database)
        await migrate(engine)
        runner = runner_for(engine)
        ledger, spends = LedgerRepo(engine, runner, run_id="run_test"), BudgetsRepo(engine, runner)
        try:
            account = await AccountsRepo(engine, runner).create_account("budgets")
            assert await ledger.adjust(account.id, 100_000, "topup", "funding")
            now = datetime.now(UTC)
            key = BudgetClaim("key", account.id, "key_1", Budget(5_000, "day"), period_start("day", now))
            user = BudgetClaim("user", account.id, "u_alice", Budget(3_000, "month"), period_start("month", now))

            async def hold(i: int, claims: tuple[BudgetClaim, ...]) -> str | None:
                try:
                    return await ledger.take_hold(account.id, f"req_{i}", 1_000, 60, budgets=claims)
                except BudgetShort as short:
                    return short.claim.scope

            # 20 concurrent holds of 1,000 against the end user's 3,000 (and the key's 5,000): exactly 3
            got = await asyncio.gather(*(hold(i, (key, user)) for i in range(20)))
            taken = [h for h in got if h not in ("key", "user")]
            assert len(taken) == 3 and got.count("user") == 17
            # without the end user, the key's budget has 2,000 left
            more = await asyncio.gather(*(hold(20 + i, (key,)) for i in range(10)))
            assert len([h for h in more if h != "key"]) == 2
            taken += [h for h in more if h != "key"]

            def shown(claim: BudgetClaim) -> tuple[int, int]:
                spend = spent[claim.spend_id]
                return spend.spent_micros, spend.held_micros

            spent = await spends.spend_of((key, user))
            assert shown(key) == (0, 5_000) and shown(user) == (0, 3_000)
            assert await ledger.settle(taken[0], 600, "delivered")  # captured 600, released 400
            assert await ledger.release(taken[1])
            assert await ledger.settle(taken[2], 1_000, "delivered")
            assert await ledger.refund(taken[2], "job interrupted") == 1_000  # refunded: spent no more
            spent = await spends.spend_of((key, user))
            assert shown(key) == (600, 2_000) and shown(user) == (600, 0)
            # the others expire: the sweeper gives their budget back
            assert sorted(await ledger.sweep_expired(datetime.now(UTC) + timedelta(minutes=5))) == sorted(taken[3:])
            spent = await spends.spend_of((key, user))
            assert shown(key) == (600, 0) and shown(user) == (600, 0)
            assert (await ledger.verify())[1] == []
            # the account's credit is checked first: nothing of the budget is taken when it is short
            poor = await AccountsRepo(engine, runner).create_account("poor")
            assert await ledger.take_hold(poor.id, "req_poor", 1_000, 60, budgets=(key,)) is None
            spent = await spends.spend_of((key, user))
            assert shown(key) == (600, 0)

            async with engine.begin() as conn:  # a spend row that disagrees with the ledger
                await conn.execute(update(budget_spend).where(budget_spend.c.id == key.spend_id).values(spent_micros=0))
            problems = (await ledger.verify())[1]
            assert [(p.account_id, "spent 0 but its holds kept 600" in p.problem) for p in problems] == [
                (account.id, True)
            ]
        finally:
            await runner.aclose()
            await engine.dispose()

    asyncio.run(scenario())
