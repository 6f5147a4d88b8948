"""The images a gateway has stored: whose each one is, what made it, and when it may be deleted.

One row per stored image, written before its bytes (so no stored image is ever unknown to the
sweeper). The retention sweeper deletes the objects, then the row; on PostgreSQL it claims rows with
`FOR UPDATE SKIP LOCKED`, so sweepers on many nodes share the work without taking the same image.

The rows are also the account's image library (`GET /v1/images`), searched by prompt text. The
search index follows the rows exactly, in the same transaction, whatever deletes them:
- PostgreSQL: `search`, a generated `tsvector` column (`to_tsvector('simple', prompt revised_prompt)`)
  with a GIN index; it is part of the row, so it comes and goes with it.
- SQLite: the FTS5 table `images_fts` (unicode61 tokens), one row per image with a prompt, whose
  rowid the image keeps in `search_rowid`; every insert and delete here writes both tables in one
  transaction. (Not the table's implicit rowid: VACUUM may renumber that, never a column.)
Neither is in `metadata`: both are dialect-specific and made by migration 0014.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..domain.blobs import stored_names
from ..domain.image_library import LibraryQuery, fts5_query, tsquery
from .runner import EngineRunner, PostgresRunner, Runner
from .tables import images


@dataclass(frozen=True, slots=True)
class ImageOwner:
    """Whose the images of one request are, and what made them (the library shows these)."""

    account_id: str
    request_id: str | None = None
    model: str | None = None
    size: str | None = None
    prompt: str | None = None
    quality: str | None = None
    cost_micros: int | None = None
    """Per image."""
    surface: str | None = None


@dataclass(frozen=True, slots=True)
class NewImage:
    """One image about to be stored: its id, its own revised prompt, and whether it has a thumbnail."""

    id: str
    revised_prompt: str | None = None
    thumbnail: bool = False


@dataclass(frozen=True, slots=True)
class StoredImage:
    id: str
    ext: str
    expires: int
    request_id: str | None
    model: str | None
    size: str | None
    created: int | None = None
    prompt: str | None = None
    revised_prompt: str | None = None
    quality: str | None = None
    cost_micros: int | None = None
    surface: str | None = None
    thumbnail: bool = False

    @property
    def names(self) -> list[str]:
        """Its objects in the BlobStore: the image, and its thumbnail where it has one."""
        return stored_names(self.id, self.ext, thumbnail=self.thumbnail)


_LISTED = (
    images.c.id,
    images.c.ext,
    images.c.expires_at,
    images.c.request_id,
    images.c.model,
    images.c.size,
    images.c.created_at,
    images.c.prompt,
    images.c.revised_prompt,
    images.c.quality,
    images.c.cost_micros,
    images.c.surface,
    images.c.thumbnail,
)
INSERT_IMAGE = insert(images)
_INSERT_FTS = text("INSERT INTO images_fts (body) VALUES (:body)")
Deleter = Callable[[list[str]], Awaitable[None]]
"""Deletes stored objects, given their names (`img_….png`, `img_….thumb.webp`)."""


def _stored(row: Any) -> StoredImage:
    return StoredImage(
        row.id,
        row.ext,
        int(row.expires_at),
        row.request_id,
        row.model,
        row.size,
        None if row.created_at is None else int(row.created_at),
        row.prompt,
        row.revised_prompt,
        row.quality,
        row.cost_micros,
        row.surface,
        bool(row.thumbnail),
    )


def search_text(prompt: str | None, revised_prompt: str | None) -> str | None:
    """What a library search reads: the prompt, and the revised prompt where it says something else."""
    parts = [p for p in (prompt, revised_prompt if revised_prompt != prompt else None) if p]
    return "\n".join(parts) or None


def _insert(rows: list[dict[str, Any]], conn: Connection) -> None:
    conn.execute(INSERT_IMAGE, rows)


def _insert_indexed(rows: list[dict[str, Any]], conn: Connection) -> None:
    """SQLite: each prompt into images_fts first, its rowid kept on the image, in one transaction."""
    for row in rows:
        body = search_text(row["prompt"], row["revised_prompt"])
        if body is not None:
            row["search_rowid"] = conn.execute(_INSERT_FTS, {"body": body}).lastrowid
    conn.execute(INSERT_IMAGE, rows)


def _delete(ids: Sequence[str], indexed: bool, conn: Connection) -> None:
    if indexed:
        found = select(images.c.search_rowid).where(images.c.id.in_(ids), images.c.search_rowid.is_not(None))
        rowids = [int(r) for r in conn.execute(found).scalars()]
        if rowids:
            by_rowid = text("DELETE FROM images_fts WHERE rowid IN :rowids")
            conn.execute(by_rowid.bindparams(bindparam("rowids", rowids, expanding=True)))
    conn.execute(delete(images).where(images.c.id.in_(ids)))


def _mark_thumbnails(ids: list[str], conn: Connection) -> set[str]:
    conn.execute(update(images).where(images.c.id.in_(ids)).values(thumbnail=True))
    return set(conn.execute(select(images.c.id).where(images.c.id.in_(ids))).scalars())


class ImagesRepo:
    def __init__(self, engine: AsyncEngine, runner: Runner | None = None) -> None:
        self._engine = engine
        self._runner = runner or EngineRunner(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self._skip_locked = self._postgres
        self._fts = engine.dialect.name == "sqlite"

    async def record(self, owner: ImageOwner, new: Sequence[NewImage], ext: str, expires: int, created: int) -> None:
        rows: list[dict[str, Any]] = [
            {
                "id": image.id,
                "account_id": owner.account_id,
                "ext": ext,
                "expires_at": expires,
                "request_id": owner.request_id,
                "model": owner.model,
                "size": owner.size,
                "created_at": created,
                "prompt": owner.prompt,
                "revised_prompt": image.revised_prompt,
                "quality": owner.quality,
                "cost_micros": owner.cost_micros,
                "surface": owner.surface,
                "thumbnail": image.thumbnail,
                "search_rowid": None,
            }
            for image in new
        ]
        if self._fts:
            await self._runner.write(partial(_insert_indexed, rows))
            return
        if len(rows) == 1 and isinstance(self._runner, PostgresRunner):  # n=1: one statement, straight on asyncpg
            await self._runner.execute_core(INSERT_IMAGE, rows[0])
            return
        # one row (n=1) is one statement, atomic without a transaction
        await (self._runner.atomic if len(rows) == 1 else self._runner.write)(partial(_insert, rows))

    async def mark_thumbnails(self, image_ids: Sequence[str]) -> set[str]:
        """Record that these images' thumbnails are stored (so the sweep deletes them too); the ids that
        still have a row (an image deleted meanwhile has none, and its thumbnail is the caller's to delete)."""
        return await self._runner.write(partial(_mark_thumbnails, list(image_ids)))

    async def valid(self, account_id: str, now: int, limit: int) -> list[StoredImage]:
        """The account's images whose URL is still valid at `now` (unix seconds), newest first."""
        c = images.c
        query = (
            select(*_LISTED)
            .where(c.account_id == account_id, c.expires_at > now)
            .order_by(c.expires_at.desc(), c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored(r) for r in rows]

    async def library(self, account_id: str, now: int, wanted: LibraryQuery) -> list[StoredImage]:
        """One page of the account's images whose URL is still valid at `now`, newest first (by id, which
        sorts by creation time), matching `wanted`; one more than `wanted.limit` when there are more."""
        c = images.c
        query = select(*_LISTED).where(c.account_id == account_id, c.expires_at > now)
        if wanted.model is not None:
            query = query.where(c.model == wanted.model)
        if wanted.after is not None:
            query = query.where(c.id < wanted.after)
        if wanted.words:
            if self._postgres:
                query = query.where(text("images.search @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsquery(wanted)))
            else:
                matching = "images.search_rowid IN (SELECT rowid FROM images_fts WHERE images_fts MATCH :fts)"
                query = query.where(text(matching).bindparams(fts=fts5_query(wanted)))
        query = query.order_by(c.id.desc()).limit(wanted.limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored(r) for r in rows]

    async def find(self, image_id: str) -> StoredImage | None:
        """The image, whoever owns it (its signed URL has said the caller may see it), or None."""
        query = select(*_LISTED).where(images.c.id == image_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _stored(row) if row is not None else None

    async def owned(self, image_id: str, account_id: str) -> StoredImage | None:
        """The account's image, or None (unknown, or someone else's)."""
        query = select(*_LISTED).where(images.c.id == image_id, images.c.account_id == account_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _stored(row) if row is not None else None

    async def forget(self, *image_ids: str) -> None:
        if image_ids:
            await self._runner.write(partial(_delete, list(image_ids), self._fts))

    async def sweep(self, cutoff: int, remove: Deleter, batch: int = 500) -> int:
        """Delete the objects (with `remove`, given their names) and rows of images whose URL expired
        before `cutoff`; how many. A failed `remove` leaves the rows for the next sweep."""
        if not self._skip_locked:  # SQLite: one node; read, delete the files, then the rows
            async with self._engine.connect() as conn:
                found = await _expired(conn, cutoff, batch, lock=False)
            await remove([name for _, names in found for name in names])
            if found:
                await self.forget(*(image_id for image_id, _ in found))
            return len(found)
        async with self._engine.begin() as conn:  # the claimed rows stay locked until they are gone
            found = await _expired(conn, cutoff, batch, lock=True)
            await remove([name for _, names in found for name in names])
            if found:
                await conn.execute(delete(images).where(images.c.id.in_([image_id for image_id, _ in found])))
        return len(found)


async def _expired(conn: AsyncConnection, cutoff: int, batch: int, *, lock: bool) -> list[tuple[str, list[str]]]:
    """(id, object names) of up to `batch` expired images."""
    c = images.c
    query = select(c.id, c.ext, c.thumbnail).where(c.expires_at < cutoff).limit(batch)
    if lock:
        query = query.with_for_update(skip_locked=True)
    rows = (await conn.execute(query)).all()
    return [(row.id, stored_names(row.id, row.ext, thumbnail=bool(row.thumbnail))) for row in rows]


__all__ = ["ImageOwner", "ImagesRepo", "NewImage", "StoredImage", "search_text"]
