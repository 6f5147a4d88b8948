"""The images a gateway has stored: whose each one is and when it may be deleted.

One row per stored image, written before its bytes (so no stored image is ever unknown to the
sweeper). The retention sweeper deletes the object, then the row; on PostgreSQL it claims rows with
`FOR UPDATE SKIP LOCKED`, so sweepers on many nodes share the work without taking the same image.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import BigInteger, Column, Index, String, Table, delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .runner import EngineRunner, Runner
from .tables import metadata

images = Table(
    "images",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), nullable=False),
    Column("ext", String(8), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # unix seconds: the URL's expiry
    Column("request_id", String(40), nullable=True),  # what made it, for the account page
    Column("model", String(64), nullable=True),
    Column("size", String(16), nullable=True),
    Index("ix_images_account", "account_id"),
    Index("ix_images_expires", "expires_at"),
)


@dataclass(frozen=True, slots=True)
class ImageOwner:
    """Whose the images of one request are, and what made them."""

    account_id: str
    request_id: str | None = None
    model: str | None = None
    size: str | None = None


@dataclass(frozen=True, slots=True)
class StoredImage:
    id: str
    ext: str
    expires: int
    request_id: str | None
    model: str | None
    size: str | None


INSERT_IMAGE = insert(images)
Deleter = Callable[[list[str]], Awaitable[None]]


def _insert(rows: list[dict[str, object]], conn: Connection) -> None:
    conn.execute(INSERT_IMAGE, rows)


def _delete(ids: Sequence[str], conn: Connection) -> None:
    conn.execute(delete(images).where(images.c.id.in_(ids)))


class ImagesRepo:
    def __init__(self, engine: AsyncEngine, runner: Runner | None = None) -> None:
        self._engine = engine
        self._runner = runner or EngineRunner(engine)
        self._skip_locked = engine.dialect.name == "postgresql"

    async def record(self, owner: ImageOwner, ids: Sequence[str], ext: str, expires: int) -> None:
        rows: list[dict[str, object]] = [
            {
                "id": image_id,
                "account_id": owner.account_id,
                "ext": ext,
                "expires_at": expires,
                "request_id": owner.request_id,
                "model": owner.model,
                "size": owner.size,
            }
            for image_id in ids
        ]
        # one row (n=1) is one statement, atomic without a transaction (one round trip on PostgreSQL)
        await (self._runner.atomic if len(rows) == 1 else self._runner.write)(partial(_insert, rows))

    async def valid(self, account_id: str, now: int, limit: int) -> list[StoredImage]:
        """The account's images whose URL is still valid at `now` (unix seconds), newest first."""
        c = images.c
        query = (
            select(c.id, c.ext, c.expires_at, c.request_id, c.model, c.size)
            .where(c.account_id == account_id, c.expires_at > now)
            .order_by(c.expires_at.desc(), c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [StoredImage(r.id, r.ext, int(r.expires_at), r.request_id, r.model, r.size) for r in rows]

    async def owned(self, image_id: str, account_id: str) -> str | None:
        """The file name (`img_….ext`) of the account's image, or None (unknown, or someone else's)."""
        query = select(images.c.ext).where(images.c.id == image_id, images.c.account_id == account_id)
        async with self._engine.connect() as conn:
            ext = (await conn.execute(query)).scalar()
        return f"{image_id}.{ext}" if ext is not None else None

    async def forget(self, image_id: str) -> None:
        await self._runner.write(partial(_delete, [image_id]))

    async def sweep(self, cutoff: int, remove: Deleter, batch: int = 500) -> int:
        """Delete the objects (with `remove`, given the file names) and rows of images whose URL expired
        before `cutoff`; how many. A failed `remove` leaves the rows for the next sweep."""
        if not self._skip_locked:  # SQLite: one node; read, delete the files, then the rows
            async with self._engine.connect() as conn:
                names = await _expired(conn, cutoff, batch, lock=False)
            await remove([name for _, name in names])
            if names:
                await self._runner.write(partial(_delete, [image_id for image_id, _ in names]))
            return len(names)
        async with self._engine.begin() as conn:  # the claimed rows stay locked until they are gone
            names = await _expired(conn, cutoff, batch, lock=True)
            await remove([name for _, name in names])
            if names:
                await conn.execute(delete(images).where(images.c.id.in_([i for i, _ in names])))
        return len(names)


async def _expired(conn: AsyncConnection, cutoff: int, batch: int, *, lock: bool) -> list[tuple[str, str]]:
    query = select(images.c.id, images.c.ext).where(images.c.expires_at < cutoff).limit(batch)
    if lock:
        query = query.with_for_update(skip_locked=True)
    rows = (await conn.execute(query)).all()
    return [(row.id, f"{row.id}.{row.ext}") for row in rows]


__all__ = ["ImageOwner", "ImagesRepo", "StoredImage", "images"]
