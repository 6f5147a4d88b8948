"""GET /v1/account: the caller's own balance, holds and key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..components import components
from ..views import views

router = APIRouter()


@router.get("/v1/account")
async def get_account(request: Request) -> dict[str, Any]:
    principal = await components(request).authenticate(request)
    return await views(request).account.summary(principal)
