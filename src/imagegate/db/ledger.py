"""Holds and captures: each one atomic conditional statement, so balances never go negative."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..ids import new_id
from .accounts import utcnow
from .tables import accounts, holds, ledger_entries


class LedgerRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def take_hold(self, account_id: str, request_id: str, amount: int, ttl_seconds: int) -> str | None:
        """Reserve `amount` if the account has it available; the hold's id, or None if short."""
        hold_id = new_id("hold")
        now = utcnow()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(accounts)
                .where(
                    and_(
                        accounts.c.id == account_id,
                        accounts.c.balance_micros - accounts.c.held_micros >= amount,
                    )
                )
                .values(held_micros=accounts.c.held_micros + amount)
            )
            if result.rowcount != 1:
                return None
            await conn.execute(
                insert(holds).values(
                    id=hold_id,
                    account_id=account_id,
                    request_id=request_id,
                    amount_micros=amount,
                    status="open",
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )
        return hold_id

    async def settle(self, hold_id: str, capture: int, reason: str) -> bool:
        """Capture `capture` (at most the hold) and release the rest; False if the hold is gone."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    update(holds)
                    .where(holds.c.id == hold_id, holds.c.status == "open")
                    .values(status="settled" if capture else "released")
                    .returning(holds.c.account_id, holds.c.amount_micros, holds.c.request_id)
                )
            ).first()
            if row is None:
                return False
            if capture > row.amount_micros:
                raise ValueError("capture exceeds the hold")
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == row.account_id)
                .values(
                    held_micros=accounts.c.held_micros - row.amount_micros,
                    balance_micros=accounts.c.balance_micros - capture,
                )
            )
            if capture:
                await conn.execute(
                    insert(ledger_entries).values(
                        id=new_id("led"),
                        account_id=row.account_id,
                        kind="capture",
                        amount_micros=-capture,
                        reason=reason,
                        request_id=row.request_id,
                        created_at=utcnow(),
                    )
                )
        return True

    async def release(self, hold_id: str) -> bool:
        return await self.settle(hold_id, 0, "released")

    async def open_holds(self, account_id: str) -> int:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(holds.c.id).where(holds.c.account_id == account_id, holds.c.status == "open")
                )
            ).all()
        return len(rows)


__all__ = ["LedgerRepo"]
