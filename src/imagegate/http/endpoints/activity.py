"""GET /v1/account/activity: the caller's spend and images per day (30 days) and recent requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


@router.get("/v1/account/activity")
async def get_activity(request: Request) -> dict[str, Any]:
    return await gateway(request).account.activity(await authenticate(request))
