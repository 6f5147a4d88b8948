"""GET /v1/account: the caller's own balance, holds and key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..auth import authenticate
from ..gateway import gateway

router = APIRouter()


@router.get("/v1/account")
async def get_account(request: Request) -> dict[str, Any]:
    return await gateway(request).account.summary(await authenticate(request))
