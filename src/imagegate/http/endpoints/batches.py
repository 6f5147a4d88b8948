"""The Batch API: POST /v1/batches, GET /v1/batches (paged: `after`, `limit`), GET
/v1/batches/{batch_id}, POST /v1/batches/{batch_id}/cancel, as the openai SDK's `batches` calls them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...domain.json_body import parse_json_object
from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


@router.post("/v1/batches")
async def create_batch(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    return await gateway(request).batches.create(principal, parse_json_object(await request.body()))


@router.get("/v1/batches")
async def list_batches(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    params = request.query_params
    return await gateway(request).batches.page(principal, params.get("after"), params.get("limit"))


@router.get("/v1/batches/{batch_id}")
async def get_batch(batch_id: str, request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    return await gateway(request).batches.get(principal, batch_id)


@router.post("/v1/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    return await gateway(request).batches.cancel(principal, batch_id)
