"""The HTTP side of authentication: the Bearer key from the header, and the admin token check."""

from __future__ import annotations

import hmac

from fastapi import Request

from ..domain.errors import AuthenticationFailed, NotFound
from ..domain.principal import Principal
from .gateway import gateway


async def authenticate(request: Request) -> Principal:
    """The caller's Principal from `Authorization: Bearer <key>` (401 / 403 as the contract says),
    looked up once per request (a surface's body reader asks again)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    principal = await gateway(request).authenticator.principal_for(key)
    request.state.key_id = principal.key_id  # for the access log (the id, never the key)
    request.state.principal = principal
    return principal


async def require_admin(request: Request) -> None:
    """The admin API's one guard: 404 while no admin token is set, 401 for a wrong one."""
    token = gateway(request).settings.admin_token
    if token is None:
        raise NotFound("The admin API is off: set IMAGEGATE_ADMIN_TOKEN to turn it on.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AuthenticationFailed("A valid admin token is required.", code="invalid_admin_token")


__all__ = ["authenticate", "require_admin"]
