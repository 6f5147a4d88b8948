"""GET /v1/images?query=&model=&after=&limit=: the caller's stored images, newest first, searched by prompt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


@router.get("/v1/images")
async def list_images(request: Request) -> dict[str, Any]:
    principal = await authenticate(request)
    params = request.query_params
    return await gateway(request).library.page(
        principal,
        query=params.get("query"),
        model=params.get("model"),
        after=params.get("after"),
        limit=params.get("limit"),
    )
