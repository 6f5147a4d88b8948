"""GET /admin/v1/margin?start=&end=: revenue, upstream cost and margin per model and route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ...service.margin import margin_window
from ..auth import require_admin
from ..gateway import gateway

router = APIRouter(prefix="/admin/v1", dependencies=[Depends(require_admin)])


@router.get("/margin")
async def margin(request: Request) -> dict[str, Any]:
    params = request.query_params
    start, end = margin_window(params.get("start"), params.get("end"))
    return await gateway(request).margin.report(start, end)
