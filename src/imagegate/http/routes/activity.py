"""GET /v1/account/activity: the caller's spend and images per day (30 days) and recent requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..components import components
from ..views import views

router = APIRouter()


@router.get("/v1/account/activity")
async def get_activity(request: Request) -> dict[str, Any]:
    principal = await components(request).authenticate(request)
    return await views(request).account.activity(principal)
