"""The operator's prices: every model's live card, and one price changed."""

from __future__ import annotations

from typing import Any

from ...db.prices import PricesRepo
from ...domain.catalog import STANDARD_QUALITY, Catalog
from ...domain.errors import InvalidRequest
from ...domain.money import MAX_PRICE_MICROS, usd_to_micros
from ...domain.pricing import live_card


class PricesAdmin:
    def __init__(self, prices: PricesRepo, catalog: Catalog) -> None:
        self._prices = prices
        self._catalog = catalog

    async def all(self) -> dict[str, Any]:
        """Every model's live card: the rate the next request pays, per quality and size."""
        overrides = await self._prices.overrides()
        return {
            "currency": "USD",
            "models": {model.id: live_card(model, overrides) for model in self._catalog if not model.free},
        }

    async def set(self, model_name: str, quality: str | None, size: str, amount_usd: str) -> dict[str, Any]:
        model = self._catalog.find(model_name)
        if model is None:
            raise InvalidRequest(f"Unknown model '{model_name}'.", code="model_not_found", param="model")
        if model.free:
            raise InvalidRequest(f"'{model.id}' is free and has no price card.", param="model")
        keys = list(model.prices)
        quality_key = STANDARD_QUALITY if quality is None else quality  # "" is not "standard"
        if quality_key not in keys:
            raise InvalidRequest(f"'{model.id}' is priced by quality {', '.join(keys)}.", param="quality")
        if size not in model.capabilities.sizes:
            raise InvalidRequest(f"'{model.id}' has no size '{size}'.", param="size")
        micros = usd_to_micros(amount_usd, maximum=MAX_PRICE_MICROS)
        if micros < 0:
            raise InvalidRequest("A price cannot be negative.", param="amount_usd")
        await self._prices.set(model.id, quality_key, size, micros)
        return {"model": model.id, "quality": quality_key, "size": size, "micros": micros}


__all__ = ["PricesAdmin"]
