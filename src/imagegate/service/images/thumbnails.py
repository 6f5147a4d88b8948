"""The library's thumbnails, made after the answer has gone: a bounded queue and one task that works it.

A thumbnail costs 2–7 ms of CPU for a 256² image and ~30 ms for a 1024² one (a decode and a WebP
encode); made on the request path it delayed every stored image's answer by that much, and under load
it took CPU from the requests in flight. Now `Delivery` queues the stored image's bytes here once
they are stored, and one task per process makes the thumbnails one at a time (in a worker thread,
within the pixel budget), stores each beside its image, and then marks the images' rows (one
statement for all the thumbnails made since the last), from when on the library lists them.

Bounded: at most `MAX_QUEUED` images and `MAX_QUEUED_BYTES` of their bytes wait; an image that finds
the queue full gets no thumbnail, and neither does one still queued at a stop after `drain_seconds`.
The library lists an image without a thumbnail with `thumbnail_url: null`, and shows the image itself
(as it does an image stored before thumbnails existed). An image deleted before its thumbnail is
marked has the thumbnail deleted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from ...db.images import ImagesRepo
from ...domain.blobs import THUMBNAIL_EXT
from ...domain.ports import BlobStore
from ...imaging.thumbnails import thumbnail_of

log = logging.getLogger("imagegate.thumbnails")

MAX_QUEUED = 256
MAX_QUEUED_BYTES = 64 * 2**20
MARK_EVERY = 32
"""Thumbnails made before their rows are marked, at most (fewer when the queue runs empty)."""


@dataclass(frozen=True, slots=True)
class Pending:
    image_id: str
    data: bytes
    pixels: int


class Thumbnails:
    def __init__(
        self,
        store: BlobStore,
        index: ImagesRepo,
        *,
        max_queued: int = MAX_QUEUED,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        drain_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self._index = index
        self._max_queued = max_queued
        self._max_bytes = max_queued_bytes
        self._drain_seconds = drain_seconds
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._queued_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.dropped = 0
        """Images that got no thumbnail because the queue was full (or the node stopping)."""

    def submit(self, image_id: str, data: bytes, pixels: int) -> bool:
        """Queue a stored image for its thumbnail; False (it gets none) when the queue is full."""
        full = self._queue.qsize() >= self._max_queued or self._queued_bytes + len(data) > self._max_bytes
        if self._closed or full:
            self.dropped += 1
            return False
        self._queued_bytes += len(data)
        self._queue.put_nowait(Pending(image_id, data, pixels))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="imagegate-thumbnails")
        return True

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            made: list[str] = []
            try:
                while True:
                    pending = batch[-1]
                    self._queued_bytes -= len(pending.data)
                    if await self._make(pending):
                        made.append(pending.image_id)
                    if self._queue.empty() or len(batch) >= MARK_EVERY:
                        break
                    batch.append(self._queue.get_nowait())
                if made:
                    await self._mark(made)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _make(self, pending: Pending) -> bool:
        """The thumbnail made and stored; False (logged) where it could not be."""
        thumbnail = await thumbnail_of(pending.data, pending.pixels)
        if thumbnail is None:
            return False
        try:
            await self._store.put(pending.image_id, THUMBNAIL_EXT, thumbnail)
        except Exception:
            log.exception("thumbnail of %s not stored", pending.image_id)
            return False
        return True

    async def _mark(self, made: list[str]) -> None:
        try:
            listed = await self._index.mark_thumbnails(made)
        except Exception:  # the rows say "no thumbnail": the library shows the images themselves
            log.exception("%d thumbnail(s) not marked", len(made))
            return
        for image_id in made:
            if image_id not in listed:  # deleted while its thumbnail was made
                with contextlib.suppress(Exception):
                    await self._store.delete(f"{image_id}.{THUMBNAIL_EXT}")

    async def idle(self) -> None:
        """Wait until every thumbnail queued so far is made and its row marked (or given up)."""
        await self._queue.join()

    async def aclose(self) -> None:
        """At a stop: finish what is queued for up to `drain_seconds`; what is left gets no thumbnail."""
        self._closed = True
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), self._drain_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.dropped += self._queue.qsize()


__all__ = ["Thumbnails"]
