"""Budgets and alerts as the operator sets them, the spend rows as they are shown, and the alert
marks: each alert is marked sent with a conditional UPDATE, so it is sent once whatever the race."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ..domain.budgets import Budget, BudgetClaim
from .accounts import stored_budget
from .ledger_pg import Statement
from .runner import EngineRunner, Runner
from .tables import account_budgets, accounts, api_keys, budget_holds, budget_spend, holds


@dataclass(frozen=True, slots=True)
class AccountBudgets:
    """An account's end-user budget, low-balance threshold and alert webhook (all None: none set)."""

    user_budget: Budget | None = None
    low_balance_micros: int | None = None
    low_balance_alerted: bool = False
    webhook_url: str | None = None
    webhook_version: int = 0


@dataclass(frozen=True, slots=True)
class Spend:
    """One budget's period: what it allows, has spent and holds now."""

    id: str
    account_id: str
    scope: str
    subject: str
    period: str
    period_start: datetime
    budget_micros: int
    spent_micros: int
    held_micros: int


@dataclass(frozen=True, slots=True)
class BalanceLow:
    """A capture took the account's balance below its threshold (armed until then)."""

    account_id: str
    balance_micros: int
    threshold_micros: int
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class Reached:
    """A key's budget was used up this period (the first time this period)."""

    spend: Spend
    webhook_url: str | None
    """The account's alert URL (None: the key's own URL, if it has one)."""


_a, _s = account_budgets.c, budget_spend.c


def _upsert(dialect: str, values: dict[str, Any], changes: dict[str, Any]) -> Any:
    """Insert the account's row, or change `changes` of the one there."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(account_budgets).values(**values)
    return statement.on_conflict_do_update(index_elements=["account_id"], set_=changes)


# PostgreSQL: both marks in one statement (one round trip per capture). The account's mark, when
# its balance is now below an armed threshold; the key budget's, when the capture used it up.
_PG_AFTER_CAPTURE = Statement("""
WITH lb AS (
    UPDATE account_budgets SET low_balance_alerted = TRUE
    FROM accounts
    WHERE account_budgets.account_id = (SELECT account_id FROM holds WHERE id = CAST(:hold_id AS VARCHAR))
      AND accounts.id = account_budgets.account_id
      AND account_budgets.low_balance_micros IS NOT NULL
      AND NOT account_budgets.low_balance_alerted
      AND accounts.balance_micros < account_budgets.low_balance_micros
    RETURNING account_budgets.account_id
), kb AS (
    UPDATE budget_spend SET reached_at = CAST(:now AS TIMESTAMPTZ)
    WHERE id IN (SELECT spend_id FROM budget_holds WHERE hold_id = CAST(:hold_id AS VARCHAR))
      AND scope = 'key' AND reached_at IS NULL AND spent_micros >= budget_micros
    RETURNING id
)
SELECT (SELECT account_id FROM lb LIMIT 1) AS low_account, (SELECT id FROM kb LIMIT 1) AS reached_spend
""")


def _mark_low(hold_id: str, conn: Connection) -> str | None:
    account_id = conn.execute(select(holds.c.account_id).where(holds.c.id == hold_id)).scalar_one_or_none()
    if account_id is None:
        return None
    balance = select(accounts.c.balance_micros).where(accounts.c.id == account_id).scalar_subquery()
    marked = conn.execute(
        update(account_budgets)
        .where(
            _a.account_id == account_id,
            _a.low_balance_micros.is_not(None),
            _a.low_balance_alerted.is_(False),
            balance < _a.low_balance_micros,
        )
        .values(low_balance_alerted=True)
    )
    return str(account_id) if marked.rowcount == 1 else None


_MARK_REACHED = (
    update(budget_spend)
    .where(_s.id == bindparam("spend_id"), _s.scope == "key", _s.reached_at.is_(None))
    .values(reached_at=bindparam("now"))
)


def _alert_due(hold_id: str, conn: Connection) -> bool:
    """Whether the capture of `hold_id` crossed anything to alert (one read: the usual answer is no)."""
    h, b = holds.c, budget_holds.c
    low = (
        select(_a.account_id)
        .select_from(
            account_budgets.join(accounts, accounts.c.id == _a.account_id).join(holds, h.account_id == _a.account_id)
        )
        .where(
            h.id == hold_id,
            _a.low_balance_micros.is_not(None),
            _a.low_balance_alerted.is_(False),
            accounts.c.balance_micros < _a.low_balance_micros,
        )
        .exists()
    )
    used_up = (
        select(_s.id)
        .select_from(budget_spend.join(budget_holds, b.spend_id == _s.id))
        .where(b.hold_id == hold_id, _s.scope == "key", _s.reached_at.is_(None), _s.spent_micros >= _s.budget_micros)
        .exists()
    )
    return bool(conn.execute(select(low | used_up)).scalar())


def _after_capture(hold_id: str, now: datetime, conn: Connection) -> tuple[str | None, str | None]:
    low = _mark_low(hold_id, conn)
    linked = select(budget_holds.c.spend_id).where(budget_holds.c.hold_id == hold_id)
    used_up = conn.execute(
        select(_s.id).where(
            _s.id.in_(linked), _s.scope == "key", _s.reached_at.is_(None), _s.spent_micros >= _s.budget_micros
        )
    ).scalar_one_or_none()
    if used_up is not None and conn.execute(_MARK_REACHED, {"spend_id": used_up, "now": now}).rowcount != 1:
        used_up = None
    return low, used_up


def _spend(row: Any) -> Spend:
    return Spend(
        row.id,
        row.account_id,
        row.scope,
        row.subject,
        row.period,
        row.period_start,
        int(row.budget_micros),
        int(row.spent_micros),
        int(row.held_micros),
    )


class BudgetsRepo:
    def __init__(self, engine: AsyncEngine, runner: Runner | None = None) -> None:
        self._engine = engine
        self._runner = runner or EngineRunner(engine)
        self._pg = engine.dialect.name == "postgresql"

    async def set_key_budget(self, key_id: str, budget: Budget | None) -> bool:
        """The key's budget from its next request on (None: none); False when there is no such key."""
        values = {
            "budget_micros": budget.micros if budget else None,
            "budget_period": budget.period if budget else None,
        }
        async with self._engine.begin() as conn:
            result = await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
        return result.rowcount == 1

    async def account(self, account_id: str) -> AccountBudgets:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(account_budgets).where(_a.account_id == account_id))).first()
        if row is None:
            return AccountBudgets()
        return AccountBudgets(
            stored_budget(row.user_budget_micros, row.user_budget_period),
            row.low_balance_micros,
            bool(row.low_balance_alerted),
            row.webhook_url,
            int(row.webhook_version),
        )

    async def update_account(self, account_id: str, **values: Any) -> AccountBudgets | None:
        """Set some of the account's columns (the rest kept); None when there is no such account."""
        async with self._engine.begin() as conn:
            if (await conn.execute(select(accounts.c.id).where(accounts.c.id == account_id))).first() is None:
                return None
            await conn.execute(_upsert(self._engine.dialect.name, {"account_id": account_id, **values}, values))
        return await self.account(account_id)

    async def next_webhook_version(self, account_id: str, url: str) -> int | None:
        """Point the account's alerts at `url` and move its secret to the next version."""
        async with self._engine.begin() as conn:
            if (await conn.execute(select(accounts.c.id).where(accounts.c.id == account_id))).first() is None:
                return None
            values = {"account_id": account_id, "webhook_url": url, "webhook_version": 1}
            changes = {"webhook_url": url, "webhook_version": _a.webhook_version + 1}
            await conn.execute(_upsert(self._engine.dialect.name, values, changes))
            version = (await conn.execute(select(_a.webhook_version).where(_a.account_id == account_id))).scalar_one()
        return int(version)

    async def rearm_low_balance(self, account_id: str) -> None:
        """A top-up took the balance back to (or above) the threshold: the next fall below it alerts."""
        balance = select(accounts.c.balance_micros).where(accounts.c.id == account_id).scalar_subquery()
        async with self._engine.begin() as conn:
            await conn.execute(
                update(account_budgets)
                .where(_a.account_id == account_id, _a.low_balance_alerted.is_(True), balance >= _a.low_balance_micros)
                .values(low_balance_alerted=False)
            )

    async def spend_of(self, claims: tuple[BudgetClaim, ...]) -> dict[str, Spend]:
        """The spend rows of these budgets' periods, by spend id (absent: nothing spent or held yet)."""
        if not claims:
            return {}
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(budget_spend).where(_s.id.in_([c.spend_id for c in claims])))).all()
        return {r.id: _spend(r) for r in rows}

    async def spend(self, spend_id: str) -> Spend | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(budget_spend).where(_s.id == spend_id))).first()
        return _spend(row) if row else None

    async def mark_reached(self, spend_id: str, now: datetime) -> bool:
        """Mark the key budget's period as reached; False when it already was (alert sent before)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(_MARK_REACHED, {"spend_id": spend_id, "now": now})
        return result.rowcount == 1

    async def after_capture(self, hold_id: str, now: datetime) -> tuple[BalanceLow | None, Reached | None]:
        """Mark (once) what the capture of `hold_id` crossed: the account's low-balance threshold, the
        key's budget. On PostgreSQL one statement."""
        if self._pg:
            row = await _PG_AFTER_CAPTURE.fetchrow(self._runner, {"hold_id": hold_id, "now": now})
            low, reached = (row[0], row[1]) if row is not None else (None, None)
        elif await self._runner.read(partial(_alert_due, hold_id)):  # SQLite: the write lock only when due
            low, reached = await self._runner.write(partial(_after_capture, hold_id, now))
        else:
            return None, None
        if low is None and reached is None:
            return None, None
        return await self._balance_low(low), await self._reached(reached)

    async def _balance_low(self, account_id: str | None) -> BalanceLow | None:
        if account_id is None:
            return None
        query = (
            select(accounts.c.balance_micros, _a.low_balance_micros, _a.webhook_url)
            .select_from(accounts.join(account_budgets, and_(_a.account_id == accounts.c.id)))
            .where(accounts.c.id == account_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return BalanceLow(account_id, int(row.balance_micros), int(row.low_balance_micros), row.webhook_url)

    async def _reached(self, spend_id: str | None) -> Reached | None:
        if spend_id is None:
            return None
        spend = await self.spend(spend_id)
        if spend is None:
            return None
        return Reached(spend, (await self.account(spend.account_id)).webhook_url)

    async def reached(self, spend_id: str) -> Reached | None:
        return await self._reached(spend_id)


__all__ = ["AccountBudgets", "BalanceLow", "BudgetsRepo", "Reached", "Spend"]
