"""The budget and balance alerts: `account.balance_low` when a capture takes an account's balance
below its threshold (once, until a top-up re-arms it) and `key.budget_reached` when a key's budget
is used up (once per period: by a capture that spends it, or the first request it refuses).

They go through the webhook outbox like the jobs' (signed, retried): to the account's alert URL,
or, for a key's budget without one, to the key's own URL. An alert is marked before it is queued;
a failure in between loses that one alert, never a request: alerts never fail what they report on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ...db import clock
from ...db.budget_settings import BalanceLow, BudgetsRepo, Reached
from ...db.webhooks import NewMessage, WebhooksRepo
from ...domain.budgets import BudgetClaim, Period, iso_utc, period_end
from ...domain.webhooks import event_body, message_id

log = logging.getLogger("imagegate.webhooks")
BALANCE_LOW = "account.balance_low"
BUDGET_REACHED = "key.budget_reached"


class BudgetAlerts:
    def __init__(self, repo: BudgetsRepo, webhooks: WebhooksRepo, wake: Callable[[], None] | None = None) -> None:
        self._repo = repo
        self._webhooks = webhooks
        self._wake = wake or (lambda: None)

    async def captured(self, hold_id: str) -> None:
        """A hold captured money: alert what the capture crossed."""
        now = clock.utcnow()
        try:
            low, reached = await self._repo.after_capture(hold_id, now)
            if low is not None:
                await self._balance_low(low, now)
            if reached is not None:
                await self._budget_reached(reached, now)
        except Exception:
            log.exception("the alerts of hold %s could not be queued", hold_id)

    async def budget_refused(self, claim: BudgetClaim) -> None:
        """A request was refused for its key's budget: the period's alert, if not sent yet."""
        if claim.scope != "key":
            return
        now = clock.utcnow()
        try:
            if await self._repo.mark_reached(claim.spend_id, now):
                reached = await self._repo.reached(claim.spend_id)
                if reached is not None:
                    await self._budget_reached(reached, now)
        except Exception:
            log.exception("the budget alert of key %s could not be queued", claim.subject)

    async def _balance_low(self, low: BalanceLow, now: datetime) -> None:
        if low.webhook_url is None:
            return
        data = {
            "account_id": low.account_id,
            "balance_micros": low.balance_micros,
            "threshold_micros": low.threshold_micros,
        }
        await self._queue(low.account_id, low.account_id, BALANCE_LOW, f"{low.account_id}@{iso_utc(now)}", data, now)

    async def _budget_reached(self, reached: Reached, now: datetime) -> None:
        spend = reached.spend
        to = spend.account_id if reached.webhook_url is not None else spend.subject
        if reached.webhook_url is None:
            endpoint = await self._webhooks.endpoint(spend.subject)
            if endpoint is None or endpoint.url is None:
                return
        period: Period = "day" if spend.period == "day" else "month"
        data: dict[str, Any] = {
            "account_id": spend.account_id,
            "key_id": spend.subject,
            "budget_micros": spend.budget_micros,
            "spent_micros": spend.spent_micros,
            "held_micros": spend.held_micros,
            "period": spend.period,
            "period_start": iso_utc(spend.period_start),
            "resets_at": iso_utc(period_end(period, spend.period_start)),
        }
        await self._queue(spend.account_id, to, BUDGET_REACHED, spend.id, data, now)

    async def _queue(
        self, account_id: str, to: str, event: str, occurrence: str, data: dict[str, Any], now: datetime
    ) -> None:
        """One message per occurrence; `to`: the key or account whose URL and secret it is sent with."""
        subject = str(data.get("key_id") or account_id)
        message = NewMessage(
            message_id(occurrence, event), account_id, to, subject, event, event_body(event, now, data)
        )
        if await self._webhooks.enqueue(message, datetime.now(UTC)):  # due now, whatever the period's clock says
            self._wake()


__all__ = ["BALANCE_LOW", "BUDGET_REACHED", "BudgetAlerts"]
