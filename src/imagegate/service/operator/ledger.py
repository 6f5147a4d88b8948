"""The operator's ledger: credit added or corrected, an account's entries a page at a time, the ledger
verified, expired holds swept."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ...db.accounts import AccountsRepo
from ...db.ledger import LedgerRepo
from ...db.ledger_history import LedgerEntry, LedgerHistoryRepo
from ...domain.errors import BalanceOutOfRange, InvalidRequest, NotFound
from ...domain.fields import check_value
from ...domain.money import check_balance, usd_to_micros
from ...domain.paging import page_cursor, page_size
from ...domain.text import check_id
from .accounts import account_json
from .budgets import BudgetsAdmin
from .fields import REASON

MAX_HISTORY_PAGE = 500


def to_micros(amount: str, param: str = "amount_usd") -> int:
    """`"12.5"` USD -> 12500000 micros, exactly and within the documented bounds (domain/money.py)."""
    return usd_to_micros(amount, param)


class LedgerAdmin:
    def __init__(
        self,
        accounts: AccountsRepo,
        ledger: LedgerRepo,
        history: LedgerHistoryRepo,
        budgets: BudgetsAdmin | None = None,
    ) -> None:
        self._accounts = accounts
        self._ledger = ledger
        self._history = history
        self._budgets = budgets

    async def add_credit(self, account_id: str, amount_usd: str, reason: str) -> dict[str, Any]:
        """A top-up: a positive amount, with a reason, as one ledger entry."""
        micros = to_micros(amount_usd)
        if micros <= 0:
            raise InvalidRequest(
                "A top-up must be a positive amount; use an adjustment to take credit away.", param="amount_usd"
            )
        return await self._change_balance(account_id, micros, "topup", reason)

    async def adjust_credit(self, account_id: str, amount_usd: str, reason: str) -> dict[str, Any]:
        """A correction in either direction; it may not take the balance below what is held."""
        micros = to_micros(amount_usd)
        if micros == 0:
            raise InvalidRequest("An adjustment of zero changes nothing.", param="amount_usd")
        return await self._change_balance(account_id, micros, "adjustment", reason)

    async def _change_balance(self, account_id: str, micros: int, kind: str, reason: str) -> dict[str, Any]:
        check_id(account_id, "account_id")
        check_value(REASON, reason)
        row = await self._accounts.get_account(account_id)
        if row is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        check_balance(row.balance_micros + micros)
        if not await self._ledger.adjust(account_id, micros, kind, reason):
            after = await self._accounts.get_account(account_id)  # which bound refused it, for the message
            if after is not None:
                check_balance(after.balance_micros + micros)
            raise BalanceOutOfRange("The adjustment would take the balance below what is held.", param="amount_usd")
        if micros > 0 and self._budgets is not None:
            await self._budgets.rearm(account_id)  # back above the low-balance threshold: alert again next time
        account = await self._account(account_id)
        return {"account_id": account_id, **account, "amount_micros": micros, "kind": kind, "reason": reason}

    async def history(self, account_id: str, limit: str | None = None, after: str | None = None) -> dict[str, Any]:
        """The account's ledger entries, newest first (`after`: the last entry id of the previous page)."""
        check_id(account_id, "account_id")
        size = page_size(limit, maximum=MAX_HISTORY_PAGE)
        before = page_cursor(after, "led", "a ledger entry id (led_…)")
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        entries = await self._history.entries(account_id, before=before, limit=size + 1)
        page = entries[:size]
        return {
            "object": "list",
            "account_id": account_id,
            "data": [_entry_json(e) for e in page],
            "has_more": len(entries) > size,
            "last_id": page[-1].id if page else None,
        }

    async def verify(self) -> dict[str, Any]:
        checked, problems = await self._ledger.verify()
        return {
            "ok": not problems,
            "accounts_checked": checked,
            "problems": [{"account_id": p.account_id, "problem": p.problem} for p in problems],
        }

    async def sweep_holds(self) -> dict[str, Any]:
        released = await self._ledger.sweep_expired()
        return {"released": len(released), "hold_ids": released}

    async def _account(self, account_id: str) -> dict[str, Any]:
        account = await self._accounts.get_account(account_id)
        if account is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return account_json(account)


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["created_at"] = entry.created_at.isoformat()
    return data


__all__ = ["MAX_HISTORY_PAGE", "LedgerAdmin", "to_micros"]
