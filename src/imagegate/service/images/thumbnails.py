"""The library's thumbnails, made the first time one is viewed, then kept.

Storing an image makes no thumbnail: almost every API image is never looked at in the library, and
making one for each cost 1–2 ms of CPU per 256² image and ~30 ms per 1024² one under load (issue 21).
The library hands out a signed URL for every image's thumbnail (`/v1/files/img_….thumb.webp`, on
the gateway in either URL mode); the first fetch of it finds no object, reads the image, makes the
thumbnail (`imaging/thumbnails.py`: in a worker thread, within the pixel budget), stores it beside the
image, marks the image's row (the sweep then deletes it too) and serves it. Later fetches are served
from the store, or, where the store hands out its own URLs (S3 `IMAGEGATE_URL_MODE=bucket`),
redirected to the bucket's pre-signed URL.

Bounded: at most `MAKING_AT_ONCE` thumbnails are made at once per process (more wait), and concurrent
first views of one image share one make (a future per image id). Only a signed URL starts a make, so
nobody can make the gateway decode at will, and each image is made at most once per process. An
image that does not decode (or is past the thumbnail's pixel limit) is served in its place; one
deleted while its thumbnail was being made is gone (404), and so is the thumbnail just stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ...db.images import ImagesRepo, StoredImage
from ...domain.blobs import THUMBNAIL_EXT, Blob, content_type_of
from ...domain.errors import StorageUnavailable
from ...domain.ports import BlobStore
from ...imaging.thumbnails import thumbnail_of
from ..blobs import read_blob

log = logging.getLogger("imagegate.thumbnails")

MAKING_AT_ONCE = 2
"""Thumbnails made at once per process: the work is CPU-bound, and more than the cores would only take
CPU from the requests in flight."""
MAX_UNDECODABLE = 1024
"""Images remembered as making no thumbnail (served in its place without another decode)."""


class Thumbnails:
    def __init__(
        self, store: BlobStore, index: ImagesRepo, *, bucket_urls: bool = False, at_once: int = MAKING_AT_ONCE
    ) -> None:
        """`bucket_urls`: the store's `url_for` is the bucket's own pre-signed URL, redirected to once the
        thumbnail exists (else the gateway serves it)."""
        self._store = store
        self._index = index
        self._bucket_urls = bucket_urls
        self._slots = asyncio.Semaphore(at_once)
        self._making: dict[str, asyncio.Task[bytes | None]] = {}
        self._undecodable: set[str] = set()
        self.made = 0
        """Thumbnails this process has made (each image's at most once)."""

    async def open(self, image_id: str, expires: int, *, body: bool = True) -> Blob | None:
        """The image's thumbnail, made now if this is its first view; the image itself where it makes
        none; None when the image is gone. `expires`: the signed URL's, for a bucket's redirect."""
        name = f"{image_id}.{THUMBNAIL_EXT}"
        if image_id not in self._undecodable:
            stored = await self._store.open(name, body=body and not self._bucket_urls)
            if stored is not None:
                return self._served(stored, image_id, THUMBNAIL_EXT, expires)
        image = await self._index.find(image_id)
        if image is None:
            return None
        made = await self._made(image) if image_id not in self._undecodable else None
        if made is not None:
            return Blob(name, len(made), content_type_of(name), chunks=_once(made) if body else None)
        own = await self._store.open(f"{image_id}.{image.ext}", body=body and not self._bucket_urls)
        return None if own is None else self._served(own, image_id, image.ext, expires)

    def _served(self, blob: Blob, image_id: str, ext: str, expires: int) -> Blob:
        if not self._bucket_urls:
            return blob
        return Blob(blob.name, blob.size, blob.content_type, url=self._store.url_for(image_id, ext, expires))

    async def _made(self, image: StoredImage) -> bytes | None:
        """The thumbnail, made once however many views ask at once (a client gone does not stop it)."""
        making = self._making.get(image.id)
        if making is None:
            making = asyncio.get_running_loop().create_task(self._make(image), name=f"thumbnail-{image.id}")
            self._making[image.id] = making
            making.add_done_callback(self._done)
        return await asyncio.shield(making)

    def _done(self, making: asyncio.Task[bytes | None]) -> None:
        self._making.pop(making.get_name().removeprefix("thumbnail-"), None)
        if not making.cancelled():
            making.exception()  # retrieved: every view that waited may have gone

    async def _make(self, image: StoredImage) -> bytes | None:
        """None when the image is gone (deleted meanwhile) or makes no thumbnail (then remembered)."""
        async with self._slots:
            kept = await self._store.open(f"{image.id}.{THUMBNAIL_EXT}")
            if kept is not None:  # made by a view that ended just before this one began
                return await read_blob(kept)
            source = await self._store.open(f"{image.id}.{image.ext}")
            data = None if source is None else await read_blob(source)
            if data is None:
                return None
            thumbnail = await thumbnail_of(data)
        if thumbnail is None:
            self._note_undecodable(image.id)
            return None
        self.made += 1
        return thumbnail if await self._keep(image.id, thumbnail) else None

    async def _keep(self, image_id: str, thumbnail: bytes) -> bool:
        """Store the thumbnail and mark the row; False when the image was deleted meanwhile. One that
        cannot be kept is served all the same, and made again by a later view."""
        try:
            await self._store.put(image_id, THUMBNAIL_EXT, thumbnail)
        except StorageUnavailable:
            log.exception("thumbnail of %s not stored", image_id)
            return True
        try:
            if image_id in await self._index.mark_thumbnails([image_id]):
                return True
            gone = True
        except Exception:  # the database: unmarked, the sweep would never delete it
            log.exception("thumbnail of %s not marked", image_id)
            gone = False
        with contextlib.suppress(StorageUnavailable):
            await self._store.delete(f"{image_id}.{THUMBNAIL_EXT}")
        return not gone

    def _note_undecodable(self, image_id: str) -> None:
        if len(self._undecodable) >= MAX_UNDECODABLE:
            self._undecodable.clear()
        self._undecodable.add(image_id)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


__all__ = ["MAKING_AT_ONCE", "Thumbnails"]
