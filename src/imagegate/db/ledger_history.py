"""An account's ledger entries, newest first, a page at a time: what the operator reads to see how a
balance came to be (top-ups, adjustments, and each request's hold, capture, release or refund).

Entry ids sort by creation time (`ids.new_id`), so a page is `id < after` on the index
`(account_id, id)` (migration 0015), whatever the account's history length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import ledger_entries


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    kind: str
    """topup | adjustment | hold | capture | release | refund"""
    amount_micros: int
    """The signed change of the balance."""
    held_delta_micros: int
    """The signed change of what is held."""
    reason: str
    request_id: str | None
    hold_id: str | None
    created_at: datetime


class LedgerHistoryRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def entries(self, account_id: str, *, before: str | None, limit: int) -> list[LedgerEntry]:
        """Up to `limit` of the account's entries older than the entry `before` (all, if None), newest first."""
        e = ledger_entries.c
        query = select(
            e.id, e.kind, e.amount_micros, e.held_delta_micros, e.reason, e.request_id, e.hold_id, e.created_at
        ).where(e.account_id == account_id)
        if before is not None:
            query = query.where(e.id < before)
        query = query.order_by(e.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [LedgerEntry(**row._mapping) for row in rows]


__all__ = ["LedgerEntry", "LedgerHistoryRepo"]
