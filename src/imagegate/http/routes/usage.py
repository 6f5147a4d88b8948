"""GET /v1/usage?start=&end=: the caller's own account's usage records and totals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from ...service.timerange import time_range as parse_range
from ..components import components

router = APIRouter()


def time_range(request: Request) -> tuple[datetime, datetime]:
    params = request.query_params
    return parse_range(params.get("start"), params.get("end"))


@router.get("/v1/usage")
async def get_usage(request: Request) -> dict[str, Any]:
    gateway = components(request)
    principal = await gateway.authenticate(request)
    start, end = time_range(request)
    records, totals = await gateway.usage.query(start, end, account_id=principal.account_id)
    return {
        "object": "list",
        "account_id": principal.account_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "data": [r.as_json() for r in records],
        "totals": totals,
    }
