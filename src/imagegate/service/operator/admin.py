"""The operator's actions, by resource: each a small service with only what it needs. The CLI, the admin
API and the admin pages call them (`admin.accounts.create(…)`, `admin.ledger.verify()`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .accounts import AccountsAdmin
from .budgets import BudgetsAdmin
from .keys import KeysAdmin
from .ledger import LedgerAdmin
from .prices import PricesAdmin
from .reports import ReportsAdmin
from .webhooks import WebhooksAdmin


@dataclass(frozen=True)
class AdminService:
    accounts: AccountsAdmin
    keys: KeysAdmin
    ledger: LedgerAdmin
    prices: PricesAdmin
    webhooks: WebhooksAdmin
    reports: ReportsAdmin
    budgets: BudgetsAdmin


async def bootstrap_first_run(admin: AdminService) -> dict[str, Any] | None:
    """On an empty database: a `default` account and a free test-mode key, so the first curl works."""
    if await admin.accounts.exist():
        return None
    account = await admin.accounts.create("default")
    return await admin.keys.create(account["id"], test=True, models=None, rpm=None)


__all__ = ["AdminService", "bootstrap_first_run"]
