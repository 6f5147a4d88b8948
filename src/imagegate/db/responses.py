"""Responses API answers kept for `GET /v1/responses/{id}` and `previous_response_id`: whose each one
is, until when, and its body (the images are in the BlobStore, under `responses/<id>/<item id>`).

A row is written before its images, so the sweep that deletes expired rows (and their images) never
misses an image; on PostgreSQL the sweep claims rows `FOR UPDATE SKIP LOCKED`, so sweepers on many
nodes share the work without taking the same one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .tables import responses


@dataclass(frozen=True, slots=True)
class KeptResponse:
    id: str
    account_id: str
    item_id: str
    body: str
    created_at: int
    expires_at: int


Remover = Callable[[list[tuple[str, str]]], Awaitable[None]]
"""Deletes the images of (response id, item id) pairs."""


class ResponsesRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._skip_locked = engine.dialect.name == "postgresql"

    async def keep(self, kept: KeptResponse) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(responses).values(asdict(kept)))  # a kept response is its row

    async def find(self, response_id: str, account_id: str, now: int) -> KeptResponse | None:
        """The account's response while it is kept; None for an unknown, expired or another's one."""
        c = responses.c
        query = select(responses).where(c.id == response_id, c.account_id == account_id, c.expires_at >= now)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return KeptResponse(row.id, row.account_id, row.item_id, row.body, int(row.created_at), int(row.expires_at))

    async def forget(self, *response_ids: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(responses).where(responses.c.id.in_(response_ids)))

    async def sweep(self, now: int, remove: Remover, batch: int = 500) -> int:
        """Delete the images (with `remove`) and then the rows of responses expired before `now`; how
        many. A failed `remove` leaves the rows for the next sweep."""
        if not self._skip_locked:  # SQLite: one node; read, delete the images, then the rows
            async with self._engine.connect() as conn:
                found = await _expired(conn, now, batch, lock=False)
            await remove(found)
            if found:
                await self.forget(*(response_id for response_id, _ in found))
            return len(found)
        async with self._engine.begin() as conn:  # the claimed rows stay locked until they are gone
            found = await _expired(conn, now, batch, lock=True)
            await remove(found)
            if found:
                await conn.execute(delete(responses).where(responses.c.id.in_([i for i, _ in found])))
        return len(found)


async def _expired(conn: AsyncConnection, now: int, batch: int, *, lock: bool) -> list[tuple[str, str]]:
    query = select(responses.c.id, responses.c.item_id).where(responses.c.expires_at < now).limit(batch)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [(row.id, row.item_id) for row in (await conn.execute(query)).all()]


__all__ = ["KeptResponse", "ResponsesRepo"]
