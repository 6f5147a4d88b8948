"""GET /metrics: Prometheus text (when IMAGEGATE_METRICS=true; otherwise there is no such endpoint)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ...domain.errors import NotFound
from ..gateway import gateway as gateway_of

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    gateway = gateway_of(request)
    if gateway.scrape is None:
        raise NotFound("Metrics are off (set IMAGEGATE_METRICS=true).", code="not_found")
    return Response(gateway.scrape(), media_type=CONTENT_TYPE_LATEST)
