"""GET /v1/account: the caller's own balance, holds and key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...domain.errors import NotFound
from ...domain.principal import Principal
from ..components import components

router = APIRouter()


@router.get("/v1/account")
async def get_account(request: Request) -> dict[str, Any]:
    gateway = components(request)
    principal = await gateway.authenticate(request)
    account = await gateway.accounts.get_account(principal.account_id)
    if account is None:  # pragma: no cover - a key always belongs to an account
        raise NotFound("No such account.")
    return {
        "account_id": account.id,
        "balance_micros": account.balance_micros,
        "held_micros": account.held_micros,
        "currency": account.currency,
        "key": {
            "id": principal.key_id,
            "mode": principal.mode,
            "allowed_models": list(principal.allowed_models) if principal.allowed_models is not None else None,
            "rate_limit": _rate_limit(principal),
        },
    }


def _rate_limit(principal: Principal) -> dict[str, int | None] | None:
    """The limits in force for this key (its own, else its account's); None when unlimited."""
    limits = {
        "rpm": principal.effective_rpm,
        "ipm": principal.effective_ipm,
        "max_in_flight": principal.account_limits.max_in_flight,
    }
    return limits if any(v is not None for v in limits.values()) else None
