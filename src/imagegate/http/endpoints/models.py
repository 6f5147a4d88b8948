"""GET /v1/models and /v1/models/{id}: the catalog in the OpenAI list shape, with live prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..gateway import gateway

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    return await gateway(request).catalog.list_json()


@router.get("/v1/models/{model_id}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    return await gateway(request).catalog.get_json(model_id)
