"""Ending an operator's browser session everywhere: a logout records the session's id as revoked in the
database, until the session's own expiry; every node checks it before honouring the cookie."""

from __future__ import annotations

from datetime import UTC, datetime

from ...db.admin_sessions import AdminSessionsRepo
from ...db.clock import utcnow


class AdminSessionRevocations:
    def __init__(self, repo: AdminSessionsRepo) -> None:
        self._repo = repo

    async def revoke(self, session_id: str, expires: int) -> None:
        """`expires`: the session's own end (Unix time); the record is not needed past it."""
        await self._repo.revoke(session_id, datetime.fromtimestamp(expires, UTC), utcnow())

    async def is_revoked(self, session_id: str) -> bool:
        return await self._repo.is_revoked(session_id)


__all__ = ["AdminSessionRevocations"]
