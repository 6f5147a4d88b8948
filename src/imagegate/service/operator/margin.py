"""The operator's margin: what each model and route earned (revenue the ledger kept), what its upstream
calls cost (the usage records' `upstream_cost_micros`), and the difference, over a bounded window.

The same report answers `GET /admin/v1/margin`, `imagegate margin` and the chart on `/admin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...db.margin import MarginRepo, MarginRow
from ...domain.errors import InvalidRequest
from ..timerange import time_range

MAX_SPAN = timedelta(days=366)
"""The longest window one report sums: a year (and a day), so a query stays bounded."""


@dataclass(frozen=True, slots=True)
class Figures:
    """One line of the report (a model and route, or the totals)."""

    requests: int = 0
    images: int = 0
    lost_images: int = 0
    revenue_micros: int = 0
    upstream_cost_micros: int = 0
    estimated_cost_micros: int = 0

    @classmethod
    def of(cls, row: MarginRow) -> Figures:
        return cls(
            row.requests,
            row.images,
            row.lost_images,
            row.revenue_micros,
            row.upstream_cost_micros,
            row.estimated_cost_micros,
        )

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.requests + other.requests,
            self.images + other.images,
            self.lost_images + other.lost_images,
            self.revenue_micros + other.revenue_micros,
            self.upstream_cost_micros + other.upstream_cost_micros,
            self.estimated_cost_micros + other.estimated_cost_micros,
        )

    def as_json(self) -> dict[str, Any]:
        cost = self.upstream_cost_micros
        return {
            "requests": self.requests,
            "images": self.images,
            "lost_images": self.lost_images,
            "revenue_micros": self.revenue_micros,
            "upstream_cost_micros": cost,
            "margin_micros": self.revenue_micros - cost,
            "estimated_cost_micros": self.estimated_cost_micros,
            "estimated_share": round(self.estimated_cost_micros / cost, 4) if cost else 0.0,
        }


def margin_window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """[start, end) from unix seconds or ISO 8601 (UTC where no zone is given); end defaults to now,
    start to 30 days before it; at most `MAX_SPAN` long."""
    first, last = time_range(start, end)
    if last - first > MAX_SPAN:
        raise InvalidRequest(f"The window may span at most {MAX_SPAN.days} days.", param="start")
    return first, last


class MarginReport:
    def __init__(self, repo: MarginRepo) -> None:
        self._repo = repo

    async def report(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Per model and route, then the totals (the sum of the lines)."""
        rows = await self._repo.rows(start, end)
        total = Figures()
        data = []
        for row in rows:
            figures = Figures.of(row)
            total += figures
            data.append({"model": row.model, "route": row.route, **figures.as_json()})
        return {
            "object": "margin",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "data": data,
            "totals": total.as_json(),
        }


__all__ = ["MAX_SPAN", "MarginReport", "margin_window"]
