"""The operator's API keys: made (shown once), listed, read, revoked."""

from __future__ import annotations

from typing import Any

from ...db.accounts import AccountsRepo, KeyRow
from ...domain.budgets import Budget
from ...domain.catalog import Catalog
from ...domain.errors import InvalidRequest, NotFound
from ...domain.text import check_id, check_text
from ..keys import display_prefix, hash_key, new_key
from .accounts import check_limit
from .budgets import BudgetsAdmin, budget_json


class KeysAdmin:
    def __init__(self, accounts: AccountsRepo, catalog: Catalog, budgets: BudgetsAdmin | None = None) -> None:
        self._accounts = accounts
        self._catalog = catalog
        self._budgets = budgets

    async def create(
        self,
        account_id: str,
        *,
        test: bool,
        models: list[str] | None,
        rpm: int | None,
        ipm: int | None = None,
        budget: Budget | None = None,
    ) -> dict[str, Any]:
        check_id(account_id, "account_id")
        check_limit(rpm, "rpm")
        check_limit(ipm, "ipm")
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        allowed = None
        if models is not None:
            for model in models:
                check_text(model, "models")
            unknown = [m for m in models if self._catalog.find(m) is None]
            if unknown:
                raise InvalidRequest(f"Unknown model(s): {', '.join(unknown)}.", code="model_not_found", param="models")
            allowed = tuple(dict.fromkeys(self._catalog.find(m).id for m in models))  # type: ignore[union-attr]
        mode = "test" if test else "live"
        key = new_key(mode)
        if rpm is not None and rpm < 1:
            raise InvalidRequest("rpm must be at least 1.", param="rpm")
        row = await self._accounts.create_key(
            account_id, hash_key(key), display_prefix(key), mode, allowed, rpm, ipm, budget
        )
        return {**_key_json(row), "key": key}

    async def list_for(self, account_id: str) -> dict[str, Any]:
        check_id(account_id, "account_id")
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return {"object": "list", "data": [await self._shown(k) for k in await self._accounts.list_keys(account_id)]}

    async def revoke(self, key_id: str) -> dict[str, Any]:
        check_id(key_id, "key_id")
        if not await self._accounts.revoke_key(key_id) and await self._accounts.get_key(key_id) is None:
            raise NotFound(f"No key '{key_id}'.", param="key_id")
        key = await self._accounts.get_key(key_id)
        assert key is not None and key.revoked_at is not None
        return {"id": key.id, "revoked_at": key.revoked_at.isoformat()}

    async def get(self, key_id: str) -> dict[str, Any]:
        """One key as `list_for` shows it (with its webhook URL; never the key nor the webhook secret)."""
        check_id(key_id, "key_id")
        key = await self._accounts.get_key(key_id)
        if key is None:
            raise NotFound(f"No key '{key_id}'.", param="key_id")
        return await self._shown(key)

    async def set_budget(self, key_id: str, budget: Budget | None) -> dict[str, Any]:
        """The key's budget from its next request on (None: no budget); what it spent this period stays."""
        assert self._budgets is not None
        await self._budgets.set_key_budget(key_id, budget)
        return await self.get(key_id)

    async def _shown(self, row: KeyRow) -> dict[str, Any]:
        """The key with its budget's current period (spent, held, reset)."""
        shown = _key_json(row)
        if self._budgets is not None:
            shown["budget"] = await self._budgets.key_budget(row.account_id, row.id, row.budget)
        return shown


def _key_json(row: KeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "mode": row.mode,
        "account_id": row.account_id,
        "allowed_models": list(row.allowed_models) if row.allowed_models is not None else None,
        "rpm": row.rpm,
        "ipm": row.ipm,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "webhook_url": row.webhook_url,
        "budget": budget_json(row.budget),
    }


__all__ = ["KeysAdmin"]
