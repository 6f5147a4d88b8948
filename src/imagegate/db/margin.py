"""The margin report's query: the usage records of live keys that reached an upstream, summed per model
and route: requests, images delivered, revenue (what the ledger captured and kept: a refunded
charge's record says 0), upstream cost, and the part of that cost that is estimated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import api_keys, usage_records

REPLAY_ROUTE = "idempotent-replay"
"""A replayed answer called no upstream and captured nothing: not part of the economics."""


@dataclass(frozen=True, slots=True)
class MarginRow:
    model: str
    route: str
    requests: int
    images: int
    lost_images: int
    revenue_micros: int
    upstream_cost_micros: int
    estimated_cost_micros: int


class MarginRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def rows(self, start: datetime, end: datetime) -> list[MarginRow]:
        """Per model and route, over the records in [start, end), by model then route."""
        c = usage_records.c
        query = (
            select(
                c.model,
                c.route,
                func.count().label("requests"),
                func.coalesce(func.sum(c.delivered), 0).label("images"),
                func.coalesce(func.sum(c.lost_images), 0).label("lost_images"),
                func.coalesce(func.sum(c.cost_micros), 0).label("revenue"),
                func.coalesce(func.sum(c.upstream_cost_micros), 0).label("cost"),
                func.coalesce(
                    func.sum(case((c.upstream_cost_estimated.is_(True), c.upstream_cost_micros), else_=0)), 0
                ).label("estimated"),
            )
            .join(api_keys, api_keys.c.id == c.key_id)
            .where(c.created_at >= start, c.created_at < end, api_keys.c.mode == "live")
            .where(c.model.is_not(None), c.route.is_not(None), c.route != REPLAY_ROUTE)
            .group_by(c.model, c.route)
            .order_by(c.model, c.route)
        )
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).all()
        return [
            MarginRow(
                model=str(r.model),
                route=str(r.route),
                requests=int(r.requests),
                images=int(r.images),
                lost_images=int(r.lost_images),
                revenue_micros=int(r.revenue),
                upstream_cost_micros=int(r.cost),
                estimated_cost_micros=int(r.estimated),
            )
            for r in found
        ]


__all__ = ["MarginRepo", "MarginRow"]
