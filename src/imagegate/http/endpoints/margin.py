"""The operator's economics under /admin/v1: `GET margin?start=&end=` (revenue, upstream cost and margin
per model and route) and the routes' live upstream cost sheets (`GET` / `PUT upstream-costs`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ...domain.fields import read_fields
from ...domain.json_body import parse_json_object
from ...domain.money import amount_text
from ...service.images.upstream_costs import cost_item_fields
from ...service.operator.margin import margin_window
from ..auth import require_admin
from ..gateway import gateway

router = APIRouter(prefix="/admin/v1", dependencies=[Depends(require_admin)])


@router.get("/margin")
async def margin(request: Request) -> dict[str, Any]:
    params = request.query_params
    start, end = margin_window(params.get("start"), params.get("end"))
    return await gateway(request).margin.report(start, end)


@router.get("/upstream-costs")
async def list_upstream_costs(request: Request) -> dict[str, Any]:
    return await gateway(request).upstream_costs.listing()


@router.put("/upstream-costs")
async def set_upstream_cost(request: Request) -> dict[str, Any]:
    body = read_fields(parse_json_object(await request.body(), empty_is_object=True), cost_item_fields())
    return await gateway(request).upstream_costs.set(
        body["model"], body["route"], body["item"], amount_text(body["amount_usd"])
    )
