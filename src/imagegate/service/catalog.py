"""The catalog as clients read it: every model with its capabilities and live prices."""

from __future__ import annotations

from typing import Any

from ..db.prices import PricesRepo
from ..domain.catalog import STANDARD_QUALITY, Catalog, Model
from ..domain.errors import NotFound
from ..domain.pricing import PriceOverrides, unit_price


def live_card(model: Model, overrides: PriceOverrides) -> dict[str, dict[str, int]]:
    """`per_image_micros[quality][size]`; `auto` shows what it is held at (the dearest quality)."""
    if model.free:
        return {STANDARD_QUALITY: {size: 0 for size in model.capabilities.sizes}}
    card = {
        quality: {size: unit_price(model, quality, size, overrides) for size in model.capabilities.sizes}
        for quality in model.prices
    }
    if "auto" in model.capabilities.qualities:
        card["auto"] = {size: max(card[q][size] for q in model.prices) for size in model.capabilities.sizes}
    return card


def model_json(model: Model, overrides: PriceOverrides) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
        "imagegate": {
            "vendor": model.vendor,
            "display_name": model.display_name,
            "aliases": list(model.aliases),
            "capabilities": model.capabilities.as_public(),
            "pricing": {"currency": "USD", "per_image_micros": live_card(model, overrides)},
            "latency": {"typical_seconds": list(model.latency_seconds)},
            "when_to_use": list(model.when_to_use),
        },
    }


class CatalogService:
    def __init__(self, catalog: Catalog, prices: PricesRepo) -> None:
        self._catalog = catalog
        self._prices = prices

    @property
    def models(self) -> Catalog:
        return self._catalog

    async def list_models(self) -> dict[str, Any]:
        overrides = await self._prices.overrides()
        return {"object": "list", "data": [model_json(m, overrides) for m in self._catalog]}

    async def get_model(self, model_id: str) -> dict[str, Any]:
        model = self._catalog.find(model_id)
        if model is None:
            raise NotFound(f"The model '{model_id}' does not exist.", code="model_not_found", param="model")
        return model_json(model, await self._prices.overrides(model.id))


__all__ = ["CatalogService", "live_card", "model_json"]
