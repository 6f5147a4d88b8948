"""A key holder's view of their own account: balance, holds, key, usage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db.accounts import AccountsRepo
from ..db.usage import UsageRepo
from ..domain.errors import NotFound
from ..domain.principal import Principal
from .timerange import time_range


class AccountService:
    def __init__(self, accounts: AccountsRepo, usage: UsageRepo) -> None:
        self._accounts = accounts
        self._usage = usage

    async def account(self, principal: Principal) -> dict[str, Any]:
        account = await self._accounts.get_account(principal.account_id)
        if account is None:  # pragma: no cover - a key always belongs to an account
            raise NotFound("No such account.")
        return {
            "account_id": account.id,
            "balance_micros": account.balance_micros,
            "held_micros": account.held_micros,
            "currency": account.currency,
            "key": {
                "id": principal.key_id,
                "mode": principal.mode,
                "allowed_models": list(principal.allowed_models) if principal.allowed_models is not None else None,
                "rate_limit": _rate_limit(principal),
            },
        }

    async def usage(self, principal: Principal, start: str | None, end: str | None) -> dict[str, Any]:
        """The account's usage records in [start, end) (unix seconds or ISO 8601) and their totals."""
        first, last = time_range(start, end)
        return await self.usage_between(principal, first, last)

    async def usage_between(self, principal: Principal, start: datetime, end: datetime) -> dict[str, Any]:
        records, totals = await self._usage.query(start, end, account_id=principal.account_id)
        return {
            "object": "list",
            "account_id": principal.account_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "data": [r.as_json() for r in records],
            "totals": totals,
        }


def _rate_limit(principal: Principal) -> dict[str, int | None] | None:
    """The limits in force for this key (its own, else its account's); None when unlimited."""
    limits = {
        "rpm": principal.effective_rpm,
        "ipm": principal.effective_ipm,
        "max_in_flight": principal.account_limits.max_in_flight,
    }
    return limits if any(v is not None for v in limits.values()) else None


__all__ = ["AccountService"]
