"""The operator's live items over the catalog's upstream cost sheets (`upstream_cost_overrides`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .clock import utcnow
from .shared_read import SharedRead
from .tables import upstream_cost_overrides

Overrides = dict[tuple[str, str], dict[str, int]]
"""(model, route) -> item -> micros."""

FRESH_SECONDS = 5.0
"""How long a node keeps what it read: a change made on any node prices the records written from at
most this long after it (a cost changes no client's bill, so a few seconds' lag is harmless)."""


class UpstreamCostsRepo:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._cached: tuple[float, Overrides] | None = None
        self._reads = SharedRead(self._read)

    async def overrides(self, *, fresh: bool = False) -> Overrides:
        """Every live item, from memory while it is younger than `FRESH_SECONDS` (`fresh`: read now).
        Every settled request asks; those finding the memory stale share one read."""
        if fresh:
            return await self._read()
        if self._cached is not None and self._clock() - self._cached[0] < FRESH_SECONDS:
            return self._cached[1]
        return await self._reads.get()

    async def _read(self) -> Overrides:
        now = self._clock()
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(upstream_cost_overrides))).all()
        found: Overrides = {}
        for row in rows:
            found.setdefault((row.model, row.route), {})[row.item] = int(row.micros)
        self._cached = (now, found)
        return found

    async def set(self, model: str, route: str, item: str, micros: int) -> None:
        c = upstream_cost_overrides.c
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(upstream_cost_overrides).where(c.model == model, c.route == route, c.item == item)
            )
            await conn.execute(
                insert(upstream_cost_overrides).values(
                    model=model, route=route, item=item, micros=micros, updated_at=utcnow()
                )
            )
        self._cached = None


__all__ = ["FRESH_SECONDS", "Overrides", "UpstreamCostsRepo"]
