"""GET /v1/usage?start=&end=: the caller's own account's usage records and totals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


@router.get("/v1/usage")
async def get_usage(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    params = request.query_params
    return await gateway(request).account.usage(principal, params.get("start"), params.get("end"))
