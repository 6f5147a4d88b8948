"""Accounts, API keys and credit top-ups."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncEngine

from ..domain.budgets import Budget
from ..domain.ids import new_id
from ..domain.principal import AccountLimits, Principal
from ..domain.safety_policy import AccountSafety
from .clock import utcnow
from .runner import EngineRunner, PostgresRunner, Runner
from .tables import account_budgets, accounts, api_keys, price_cards


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: str
    name: str
    currency: str
    balance_micros: int
    held_micros: int
    disabled: bool
    created_at: datetime
    rpm: int | None = None
    ipm: int | None = None
    max_in_flight: int | None = None
    safety: str | None = None  # JSON: {"block_terms": [...], "block_categories": [...]}

    @property
    def available_micros(self) -> int:
        return self.balance_micros - self.held_micros


_CREATED_COLUMNS = ("id", "name", "currency", "balance_micros", "held_micros", "disabled", "created_at")


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    account_id: str
    prefix: str
    mode: str
    allowed_models: tuple[str, ...] | None
    rpm: int | None
    created_at: datetime
    revoked_at: datetime | None
    ipm: int | None = None
    webhook_url: str | None = None
    budget: Budget | None = None


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """A key found by its hash, with what authentication needs to decide."""

    principal: Principal
    revoked: bool
    account_disabled: bool


_KEY_AND_ACCOUNT = (  # the hot path's one read, built once
    select(
        api_keys,
        accounts.c.disabled,
        accounts.c.currency,
        accounts.c.rpm.label("account_rpm"),
        accounts.c.ipm.label("account_ipm"),
        accounts.c.max_in_flight,
        accounts.c.safety,
        account_budgets.c.user_budget_micros,
        account_budgets.c.user_budget_period,
        account_budgets.c.low_balance_micros,
        # the price cards' freshness stamp, in the same round trip (see PricesRepo.overrides)
        select(func.count()).select_from(price_cards).scalar_subquery().label("price_cards"),
        select(func.max(price_cards.c.updated_at)).scalar_subquery().label("prices_changed_at"),
    )
    .join(accounts, accounts.c.id == api_keys.c.account_id)
    .outerjoin(account_budgets, account_budgets.c.account_id == api_keys.c.account_id)
)
_FIND_KEY = _KEY_AND_ACCOUNT.where(api_keys.c.key_hash == bindparam("key_hash"))
_KEY_BY_ID = _KEY_AND_ACCOUNT.where(api_keys.c.id == bindparam("key_id"))


class AccountsRepo:
    def __init__(self, engine: AsyncEngine, runner: Runner | None = None) -> None:
        self._engine = engine
        self._runner = runner or EngineRunner(engine)

    async def create_account(self, name: str, currency: str = "USD") -> AccountRow:
        account = AccountRow(
            id=new_id("acct"),
            name=name,
            currency=currency,
            balance_micros=0,
            held_micros=0,
            disabled=False,
            created_at=utcnow(),
        )
        async with self._engine.begin() as conn:
            await conn.execute(insert(accounts).values(**{f: getattr(account, f) for f in _CREATED_COLUMNS}))
        return account

    async def get_account(self, account_id: str) -> AccountRow | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
        return AccountRow(**row._mapping) if row else None

    async def list_accounts(self, limit: int = 1000) -> list[AccountRow]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(accounts).order_by(accounts.c.created_at).limit(limit))).all()
        return [AccountRow(**row._mapping) for row in rows]

    async def list_keys(self, account_id: str) -> list[KeyRow]:
        query = select(api_keys).where(api_keys.c.account_id == account_id).order_by(api_keys.c.created_at)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_key_row(dict(row._mapping)) for row in rows]

    async def count_accounts(self) -> int:
        async with self._engine.connect() as conn:
            return len((await conn.execute(select(accounts.c.id).limit(1))).all())

    async def set_disabled(self, account_id: str, disabled: bool) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(update(accounts).where(accounts.c.id == account_id).values(disabled=disabled))
        return result.rowcount == 1

    async def create_key(
        self,
        account_id: str,
        key_hash: str,
        prefix: str,
        mode: str,
        allowed_models: tuple[str, ...] | None,
        rpm: int | None,
        ipm: int | None = None,
        budget: Budget | None = None,
    ) -> KeyRow:
        row = {
            "id": new_id("key"),
            "account_id": account_id,
            "key_hash": key_hash,
            "prefix": prefix,
            "mode": mode,
            "allowed_models": json.dumps(list(allowed_models)) if allowed_models is not None else None,
            "rpm": rpm,
            "created_at": utcnow(),
            "revoked_at": None,
            "ipm": ipm,
            "budget_micros": budget.micros if budget else None,
            "budget_period": budget.period if budget else None,
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(api_keys).values(**row))
        return _key_row(row)

    async def revoke_key(self, key_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return result.rowcount == 1

    async def get_key(self, key_id: str) -> KeyRow | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return _key_row(dict(row._mapping)) if row else None

    async def find_key(self, key_hash: str) -> KeyLookup | None:
        if isinstance(self._runner, PostgresRunner):  # every request's read: straight on asyncpg
            record = await self._runner.fetchrow_core(_FIND_KEY, {"key_hash": key_hash})
            return _lookup(record) if record is not None else None
        row = await self._runner.read(partial(_find_key, key_hash))
        return _lookup(row._mapping) if row is not None else None

    async def key_by_id(self, key_id: str) -> KeyLookup | None:
        """The key as authentication would find it now, by its id (a batch's lines run under it)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_KEY_BY_ID, {"key_id": key_id})).first()
        return _lookup(row._mapping) if row is not None else None


def _lookup(row: Mapping[Any, Any]) -> KeyLookup:
    """The key and its account's limits, as one read of `_KEY_AND_ACCOUNT` has them (a SQLAlchemy
    row's mapping, or an asyncpg record)."""
    key = _key_row(dict(row))
    principal = Principal(
        key_id=key.id,
        account_id=key.account_id,
        mode=key.mode,
        allowed_models=key.allowed_models,
        rpm=key.rpm,
        currency=row["currency"],
        prices_version=f"{row['price_cards']}:{row['prices_changed_at']}",
        ipm=key.ipm,
        account_limits=AccountLimits(row["account_rpm"], row["account_ipm"], row["max_in_flight"]),
        safety=account_safety(row["safety"]),
        budget=key.budget,
        user_budget=stored_budget(row["user_budget_micros"], row["user_budget_period"]),
        low_balance_alert=row["low_balance_micros"] is not None,
    )
    return KeyLookup(principal, revoked=key.revoked_at is not None, account_disabled=bool(row["disabled"]))


def _find_key(key_hash: str, conn: Connection) -> Row[Any] | None:
    return conn.execute(_FIND_KEY, {"key_hash": key_hash}).first()


def account_safety(stored: str | None) -> AccountSafety:
    """The `accounts.safety` JSON column as the domain's AccountSafety."""
    if not stored:
        return AccountSafety()
    data = json.loads(stored)
    return AccountSafety(tuple(data.get("block_terms", ())), tuple(data.get("block_categories", ())))


def stored_budget(micros: int | None, period: str | None) -> Budget | None:
    """A budget as its two columns keep it (either NULL: none)."""
    if micros is None or period not in ("day", "month"):
        return None
    return Budget(int(micros), "day" if period == "day" else "month")


def _key_row(row: dict) -> KeyRow:  # type: ignore[type-arg]
    allowed = row["allowed_models"]
    return KeyRow(
        id=row["id"],
        account_id=row["account_id"],
        prefix=row["prefix"],
        mode=row["mode"],
        allowed_models=tuple(json.loads(allowed)) if allowed is not None else None,
        rpm=row["rpm"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        ipm=row.get("ipm"),
        webhook_url=row.get("webhook_url"),
        budget=stored_budget(row.get("budget_micros"), row.get("budget_period")),
    )


__all__ = ["AccountRow", "AccountsRepo", "KeyLookup", "KeyRow", "account_safety", "stored_budget"]
