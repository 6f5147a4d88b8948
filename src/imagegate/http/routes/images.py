"""POST /v1/images/generations"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...domain.errors import InvalidRequest
from ..components import components

router = APIRouter()


@router.post("/v1/images/generations")
async def generate_images(request: Request) -> JSONResponse:
    gateway = components(request)
    principal = await gateway.authenticate(request)
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from exc
    result = await gateway.images.generate(body, principal, request.state.request_id)
    return JSONResponse(result.body, headers={**result.headers, "x-imagegate-cost-micros": str(result.cost_micros)})
