"""Admin browser sessions ended by logout: kept until the session would have expired anyway.

The session cookie is signed and carries its own expiry (web/session.py), so a node needs no table
to accept one; this table is what makes a logout count on every node sharing the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import revoked_admin_sessions


class AdminSessionsRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def revoke(self, session_id: str, expires_at: datetime, now: datetime) -> None:
        """Record `session_id` as ended (again is fine), and forget sessions past their own expiry."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(revoked_admin_sessions).where(revoked_admin_sessions.c.expires_at <= now))
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(revoked_admin_sessions).values(id=session_id, expires_at=expires_at))
        except IntegrityError:  # already revoked (a second logout with the same cookie)
            return

    async def is_revoked(self, session_id: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(revoked_admin_sessions.c.id).where(revoked_admin_sessions.c.id == session_id)
            )
            return found.first() is not None


__all__ = ["AdminSessionsRepo"]
