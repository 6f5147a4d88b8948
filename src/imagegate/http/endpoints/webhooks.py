"""GET /v1/webhooks/deliveries?limit=&after=: the caller's account's webhook messages and their attempts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


@router.get("/v1/webhooks/deliveries")
async def list_deliveries(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    params = request.query_params
    return await gateway(request).webhooks.deliveries(principal, params.get("limit"), params.get("after"))
