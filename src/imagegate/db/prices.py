"""Live price cards set by the operator over the catalog's defaults."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .clock import utcnow
from .tables import price_cards


class PricesRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def overrides(self, model: str | None = None) -> dict[tuple[str, str, str], int]:
        query = select(price_cards)
        if model is not None:
            query = query.where(price_cards.c.model == model)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
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
