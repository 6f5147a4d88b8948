"""Operator actions on budgets and alerts (the admin API, the CLI and the admin pages call these):
a key's budget, an account's end-user budget, its low-balance threshold and its alert webhook URL;
and how a budget is shown, with what its current period has spent and holds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ...db.budget_settings import AccountBudgets, BudgetsRepo
from ...domain.budgets import Budget, BudgetClaim, iso_utc, period_start
from ...domain.errors import InvalidRequest, NotFound
from ...domain.fields import check_value
from ...domain.money import amount_text, usd_to_micros
from ...domain.text import check_id
from ..webhooks.endpoints import WebhookEndpoints
from .fields import KEY_BUDGET, LOW_BALANCE


def read_budget(amount: object, period: object, prefix: str = "") -> Budget:
    """A budget from its two fields (`prefix`: the end-user budget's names for them), or a 400."""
    param = f"{prefix}budget_usd"
    budget_field, period_field = KEY_BUDGET
    check_value(budget_field, amount, param)
    chosen = check_value(period_field, "day" if period is None else period, f"{prefix}budget_period")
    micros = usd_to_micros(amount_text(amount), param)  # type: ignore[arg-type]
    if micros <= 0:
        raise InvalidRequest("A budget must be a positive amount (clear it to have none).", param=param)
    return Budget(micros, chosen)


def budget_in(body: Mapping[str, Any]) -> Budget:
    """The budget an admin API body gives in its `budget_usd` and `budget_period` fields, or a 400."""
    return read_budget(body["budget_usd"], body.get("budget_period"))


def budget_json(
    budget: Budget | None, spent: int = 0, held: int = 0, now: datetime | None = None
) -> dict[str, Any] | None:
    """A budget as shown: its amount and period, the current period's spend and holds, and its reset."""
    if budget is None:
        return None
    start = period_start(budget.period, now or datetime.now(UTC))
    claim = BudgetClaim("key", "", "", budget, start)
    return {
        "budget_micros": budget.micros,
        "period": budget.period,
        "spent_micros": spent,
        "held_micros": held,
        "remaining_micros": max(0, budget.micros - spent - held),
        "resets_at": iso_utc(claim.resets_at),
    }


class BudgetsAdmin:
    def __init__(self, repo: BudgetsRepo, endpoints: WebhookEndpoints | None = None) -> None:
        self._repo = repo
        self._endpoints = endpoints

    async def key_budget(self, account_id: str, key_id: str, budget: Budget | None) -> dict[str, Any] | None:
        """The key's budget with what its current period has spent and holds."""
        if budget is None:
            return None
        now = datetime.now(UTC)
        claim = BudgetClaim("key", account_id, key_id, budget, period_start(budget.period, now))
        spend = (await self._repo.spend_of((claim,))).get(claim.spend_id)
        return budget_json(budget, spend.spent_micros if spend else 0, spend.held_micros if spend else 0, now)

    async def set_key_budget(self, key_id: str, budget: Budget | None) -> None:
        check_id(key_id, "key_id")
        if not await self._repo.set_key_budget(key_id, budget):
            raise NotFound(f"No key '{key_id}'.", param="key_id")

    async def account(self, account_id: str) -> dict[str, Any]:
        """The account's end-user budget, low-balance threshold and alert URL."""
        check_id(account_id, "account_id")
        return _account_json(account_id, await self._repo.account(account_id))

    async def set_user_budget(self, account_id: str, budget: Budget | None) -> dict[str, Any]:
        """Each end user of the account may spend this per period (None: no end-user budget)."""
        values = {
            "user_budget_micros": budget.micros if budget else None,
            "user_budget_period": budget.period if budget else None,
        }
        return await self._update(account_id, values)

    async def set_low_balance(self, account_id: str, threshold_usd: object | None) -> dict[str, Any]:
        """Alert (`account.balance_low`) when a capture takes the balance below the threshold (None: never)."""
        micros = None
        if threshold_usd is not None:
            check_value(LOW_BALANCE[0], threshold_usd)
            micros = usd_to_micros(amount_text(threshold_usd), "threshold_usd")  # type: ignore[arg-type]
            if micros <= 0:
                raise InvalidRequest(
                    "The threshold must be a positive amount (clear it for no alert).", param="threshold_usd"
                )
        return await self._update(account_id, {"low_balance_micros": micros, "low_balance_alerted": False})

    async def rearm(self, account_id: str) -> None:
        await self._repo.rearm_low_balance(account_id)

    async def set_webhook(self, account_id: str, url: object) -> dict[str, Any]:
        """Send the account's alerts to `url`; the answer shows the signing secret, this once."""
        check_id(account_id, "account_id")
        assert self._endpoints is not None
        checked = await self._endpoints.checked_url(url)
        version = await self._repo.next_webhook_version(account_id, checked)
        if version is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return {"account_id": account_id, "webhook_url": checked, "secret": self._endpoints.secret(account_id, version)}

    async def clear_webhook(self, account_id: str) -> dict[str, Any]:
        await self._update(account_id, {"webhook_url": None})
        return {"account_id": account_id, "webhook_url": None}

    async def _update(self, account_id: str, values: dict[str, Any]) -> dict[str, Any]:
        check_id(account_id, "account_id")
        updated = await self._repo.update_account(account_id, **values)
        if updated is None:
            raise NotFound(f"No account '{account_id}'.", param="account_id")
        return _account_json(account_id, updated)


def _account_json(account_id: str, row: AccountBudgets) -> dict[str, Any]:
    user = row.user_budget
    return {
        "account_id": account_id,
        "user_budget": {"budget_micros": user.micros, "period": user.period} if user else None,
        "low_balance_micros": row.low_balance_micros,
        "low_balance_alerted": row.low_balance_alerted,
        "webhook_url": row.webhook_url,
    }


__all__ = ["BudgetsAdmin", "budget_in", "budget_json", "read_budget"]
