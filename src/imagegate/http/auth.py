"""The HTTP side of authentication: the Bearer key from the header, and the admin token check."""

from __future__ import annotations

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


def client_address(request: Request) -> str | None:
    """The client's address (behind a proxy that uvicorn trusts, `FORWARDED_ALLOW_IPS`, the one it forwarded)."""
    return request.client.host if request.client else None


async def require_admin(request: Request) -> None:
    """The admin API's one guard: 404 while no admin token is set, 401 for a wrong one, 429 while this
    address (or everyone) has sent too many wrong ones (`AdminTokenGuard`)."""
    running = gateway(request)
    if not running.admin_on:
        raise NotFound("The admin API is off: set IMAGEGATE_ADMIN_TOKEN to turn it on.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not await running.admin_auth.check(client_address(request), given if scheme.lower() == "bearer" else ""):
        raise AuthenticationFailed("A valid admin token is required.", code="invalid_admin_token")


__all__ = ["authenticate", "client_address", "require_admin"]
