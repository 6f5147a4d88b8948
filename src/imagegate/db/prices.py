"""Live price cards set by the operator over the catalog's defaults."""

from __future__ import annotations

from functools import partial

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .clock import utcnow
from .shared_read import SharedRead
from .tables import price_cards

_MODEL_OVERRIDES = select(price_cards).where(price_cards.c.model == bindparam("model"))


class PricesRepo:
    """The operator's live rates. With a freshness stamp (read in the same round trip as the API
    key), they are served from memory until the stamp changes, so a change made on any node applies
    to the next request everywhere, without a query per request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._cached: tuple[str, dict[tuple[str, str, str], int]] | None = None
        self._reads = SharedRead(partial(self._load, None))

    async def overrides(self, model: str | None = None, version: str | None = None) -> dict[tuple[str, str, str], int]:
        if version is not None:
            if self._cached is None or self._cached[0] != version:  # the requests finding it so share one read
                self._cached = (version, await self._reads.get(version))
            every = self._cached[1]
            return every if model is None else {k: v for k, v in every.items() if k[0] == model}
        return await self._load(model)

    async def _load(self, model: str | None) -> dict[tuple[str, str, str], int]:
        async with self._engine.connect() as conn:
            if model is None:
                rows = (await conn.execute(select(price_cards))).all()
            else:
                rows = (await conn.execute(_MODEL_OVERRIDES, {"model": model})).all()
        return {(r.model, r.quality, r.size): r.micros for r in rows}

    async def set(self, model: str, quality: str, size: str, micros: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(price_cards).where(
                    price_cards.c.model == model, price_cards.c.quality == quality, price_cards.c.size == size
                )
            )
            await conn.execute(
                insert(price_cards).values(model=model, quality=quality, size=size, micros=micros, updated_at=utcnow())
            )


__all__ = ["PricesRepo"]
