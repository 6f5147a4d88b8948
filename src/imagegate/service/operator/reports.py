"""What the operator reads across accounts: usage with totals, daily activity, the safety audit log."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ...db.safety import SafetyEvent, SafetyEventsRepo
from ...db.usage import UsageRepo
from ...db.usage_stats import UsageStatsRepo
from ...domain.activity import daily_totals
from ...domain.errors import InvalidRequest
from ...domain.text import check_id


class ReportsAdmin:
    def __init__(self, usage: UsageRepo, stats: UsageStatsRepo, events: SafetyEventsRepo) -> None:
        self._usage = usage
        self._stats = stats
        self._events = events

    async def usage(self, start: datetime, end: datetime, account_id: str | None = None) -> dict[str, Any]:
        """Usage across every account (or one), with totals."""
        if account_id is not None:
            check_id(account_id, "account_id")
        records, totals = await self._usage.query(start, end, account_id=account_id)
        return {"object": "list", "data": [r.as_json(upstream_cost=True) for r in records], "totals": totals}

    async def daily_activity(self, days: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """Spend, images and requests per day over the last `days` days, across every account."""
        now = now or datetime.now(UTC)
        since = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
        return [d.as_json() for d in daily_totals(await self._stats.activity(since), now.date(), days)]

    async def blocks(
        self, *, account_id: str | None = None, include_flags: bool = False, limit: int = 100
    ) -> dict[str, Any]:
        """The safety audit log, newest first: blocks (and flags, if asked), at both stages."""
        if account_id is not None:
            check_id(account_id, "account_id")
        if not 1 <= limit <= 10_000:
            raise InvalidRequest("limit must be between 1 and 10000.", param="limit")
        events = await self._events.list(account_id=account_id, include_flags=include_flags, limit=limit)
        return {"object": "list", "data": [_event_json(e) for e in events]}


def _event_json(event: SafetyEvent) -> dict[str, Any]:
    data = asdict(event)
    data["created_at"] = event.created_at.isoformat()
    return data


__all__ = ["ReportsAdmin"]
