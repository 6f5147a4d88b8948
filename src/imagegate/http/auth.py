"""Bearer API key -> Principal, with the contract's 401 and 403 refusals."""

from __future__ import annotations

from fastapi import Request

from ..db.accounts import AccountsRepo
from ..domain.errors import AuthenticationFailed, PermissionDenied
from ..domain.principal import Principal
from ..service.keys import hash_key


class Authenticator:
    def __init__(self, accounts: AccountsRepo) -> None:
        self._accounts = accounts

    async def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise AuthenticationFailed(
                "Missing API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key"
            )
        found = await self._accounts.find_key(hash_key(key))
        if found is None:
            raise AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        request.state.key_id = found.principal.key_id  # for the access log (the id, never the key)
        if found.revoked:
            raise PermissionDenied("This API key has been revoked.", code="key_revoked")
        if found.account_disabled:
            raise PermissionDenied("This account is disabled.", code="account_disabled")
        return found.principal


__all__ = ["Authenticator"]
