"""GET /v1/models and /v1/models/{id}: the catalog in the OpenAI list shape, with live prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...domain.errors import NotFound
from ...service.catalog_view import model_json
from ..components import components

router = APIRouter()


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
