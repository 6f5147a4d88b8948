"""An API key -> the Principal it acts as, with the contract's 401 and 403 refusals."""

from __future__ import annotations

from ..db.accounts import AccountsRepo
from ..domain.errors import AuthenticationFailed, PermissionDenied
from ..domain.principal import Principal
from .keys import hash_key


class KeyAuthenticator:
    def __init__(self, accounts: AccountsRepo) -> None:
        self._accounts = accounts

    async def principal_for(self, key: str | None) -> Principal:
        """`key` as sent (None or empty when missing)."""
        if not key:
            raise AuthenticationFailed(
                "Missing API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key"
            )
        found = await self._accounts.find_key(hash_key(key))
        if found is None:
            raise AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if found.revoked:
            raise PermissionDenied("This API key has been revoked.", code="key_revoked")
        if found.account_disabled:
            raise PermissionDenied("This account is disabled.", code="account_disabled")
        return found.principal


__all__ = ["KeyAuthenticator"]
