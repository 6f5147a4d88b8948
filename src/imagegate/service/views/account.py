"""What a key holder sees of their own account: the /v1/account body and the account page's activity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ...db.accounts import AccountsRepo
from ...db.images import ImagesRepo
from ...db.safety import SafetyEventsRepo
from ...db.usage import UsageRepo
from ...db.usage_stats import UsageStatsRepo
from ...domain.activity import daily_totals
from ...domain.errors import NotFound
from ...domain.principal import Principal
from ..operator.budgets import BudgetsAdmin
from ..timerange import time_range

ACTIVITY_DAYS = 30
RECENT_REQUESTS = 25
VALID_IMAGES_SHOWN = 100

UrlFor = Callable[[str, str, int], str]
"""The blob store's `url_for(image_id, ext, expires)`: a download URL signed until `expires`."""


def rate_limit(principal: Principal) -> dict[str, int | None] | None:
    """The limits in force for this key (its own, else its account's); None when unlimited."""
    limits = {
        "rpm": principal.effective_rpm,
        "ipm": principal.effective_ipm,
        "max_in_flight": principal.account_limits.max_in_flight,
    }
    return limits if any(v is not None for v in limits.values()) else None


class AccountView:
    def __init__(
        self,
        accounts: AccountsRepo,
        usage: UsageRepo,
        stats: UsageStatsRepo,
        images: ImagesRepo,
        events: SafetyEventsRepo | None,
        url_for: UrlFor,
        url_ttl_seconds: int,
        budgets: BudgetsAdmin | None = None,
    ) -> None:
        self._budgets = budgets
        self._accounts = accounts
        self._usage = usage
        self._stats = stats
        self._images = images
        self._events = events
        self._url_for = url_for
        self._url_ttl = url_ttl_seconds

    async def summary(self, principal: Principal) -> dict[str, Any]:
        """The body of GET /v1/account."""
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
                "rate_limit": rate_limit(principal),
                "budget": await self._budgets.key_budget(principal.account_id, principal.key_id, principal.budget)
                if self._budgets is not None
                else None,
            },
        }

    async def activity(self, principal: Principal, now: datetime | None = None) -> dict[str, Any]:
        """Spend and images per day over the last 30 days, and the most recent requests."""
        now = now or datetime.now(UTC)
        since = datetime.combine(now.date() - timedelta(days=ACTIVITY_DAYS - 1), datetime.min.time(), UTC)
        days = daily_totals(await self._stats.activity(since, principal.account_id), now.date(), ACTIVITY_DAYS)
        records, _ = await self._usage.query(since, now + timedelta(seconds=1), principal.account_id, RECENT_REQUESTS)
        categories = await self._block_categories(principal.account_id)
        recent = [{**r.as_json(), "block_category": categories.get(r.id)} for r in records]
        return {
            "object": "account.activity",
            "account_id": principal.account_id,
            "currency": principal.currency,
            "days": [d.as_json() for d in days],
            "recent": recent,
            "images": await self._valid_images(principal.account_id, now),
        }

    async def _valid_images(self, account_id: str, now: datetime) -> list[dict[str, Any]]:
        """The account's stored images whose URLs have not expired, newest first, each with its URL
        signed until the same moment as the one first handed out."""
        return [
            {
                "id": image.id,
                "url": self._url_for(image.id, image.ext, image.expires),
                "request_id": image.request_id,
                "model": image.model,
                "size": image.size,
                "created": image.created if image.created is not None else image.expires - self._url_ttl,
                "expires": image.expires,
            }
            for image in await self._images.valid(account_id, int(now.timestamp()), VALID_IMAGES_SHOWN)
        ]

    async def usage(self, principal: Principal, start: str | None, end: str | None) -> dict[str, Any]:
        """The account's usage records in [start, end) (unix seconds or ISO 8601) and their totals."""
        first, last = time_range(start, end)
        records, totals = await self._usage.query(first, last, account_id=principal.account_id)
        return {
            "object": "list",
            "account_id": principal.account_id,
            "start": first.isoformat(),
            "end": last.isoformat(),
            "data": [r.as_json() for r in records],
            "totals": totals,
        }

    async def _block_categories(self, account_id: str) -> dict[str, str | None]:
        if self._events is None:
            return {}
        events = await self._events.list(account_id=account_id, limit=RECENT_REQUESTS * 4)
        return {e.request_id: e.category or e.code for e in events}


__all__ = ["AccountView", "rate_limit"]
