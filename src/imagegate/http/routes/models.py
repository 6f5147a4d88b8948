"""GET /v1/models and /v1/models/{id}: the catalog in the OpenAI list shape, with live prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...domain.catalog import Model
from ...domain.errors import NotFound
from ...domain.pricing import PriceOverrides
from ...service.admin import live_card
from ..components import components

router = APIRouter()


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


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    gateway = components(request)
    overrides = await gateway.prices.overrides()
    return {"object": "list", "data": [model_json(m, overrides) for m in gateway.catalog]}


@router.get("/v1/models/{model_id}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    gateway = components(request)
    model = gateway.catalog.find(model_id)
    if model is None:
        raise NotFound(f"The model '{model_id}' does not exist.", code="model_not_found", param="model")
    return model_json(model, await gateway.prices.overrides(model.id))
