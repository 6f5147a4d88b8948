"""Images are kept until their URL has expired plus a grace period, or until their owner deletes them;
their thumbnails and library rows (the prompt with them) go at the same time."""

from __future__ import annotations

import asyncio
import logging
import time

from ...db.images import ImagesRepo
from ...domain.errors import NotFound
from ...domain.ids import is_id
from ...domain.ports import BlobStore
from ...domain.principal import Principal

log = logging.getLogger("imagegate.retention")
DELETE_CONCURRENCY = 32
"""Objects deleted at once by a sweep (each one request to a bucket)."""


class Retention:
    def __init__(self, index: ImagesRepo, store: BlobStore, grace_seconds: int) -> None:
        self._index = index
        self._store = store
        self._grace = grace_seconds

    async def sweep(self, now: float | None = None) -> int:
        """Delete every image whose URL expired more than the grace period ago; how many went."""
        cutoff = int(time.time() if now is None else now) - self._grace
        total = 0
        for _ in range(100):  # bounded: at most 100 batches a round; the next round takes the rest
            swept = await self._index.sweep(cutoff, self._remove)
            total += swept
            if swept == 0:
                break
        return total

    async def sweep_logged(self) -> None:
        """`sweep`, for the background loop: a failure is logged, and the next round tries again."""
        try:
            swept = await self.sweep()
        except Exception:
            log.exception("image sweep failed")
            return
        if swept:
            log.info("deleted %d expired image(s)", swept)

    async def _remove(self, names: list[str]) -> None:
        for start in range(0, len(names), DELETE_CONCURRENCY):
            await asyncio.gather(*(self._store.delete(name) for name in names[start : start + DELETE_CONCURRENCY]))

    async def delete(self, principal: Principal, image_id: str) -> None:
        """The owner deletes an image (and its thumbnail) early; any other caller is told there is no such image."""
        image = await self._index.owned(image_id, principal.account_id) if is_id(image_id, "img") else None
        if image is None:
            raise NotFound("No such image.", code="image_not_found")
        await self._remove(image.names)  # StorageUnavailable leaves the row, so a retry can finish it
        await self._index.forget(image_id)


__all__ = ["Retention"]
