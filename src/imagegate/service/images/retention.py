"""Images are kept until their URL has expired plus a grace period, or until their owner deletes them;
their thumbnails (those made: a row marked `thumbnail`) and library rows (the prompt with them) go at
the same time."""

from __future__ import annotations

import logging
import time

from ...db.images import ImagesRepo
from ...domain.blobs import stored_names
from ...domain.errors import NotFound
from ...domain.ids import is_id
from ...domain.ports import BlobStore
from ...domain.principal import Principal
from ..sweeping import delete_all, sweep_in_batches, sweep_logged

log = logging.getLogger("imagegate.retention")
"""Objects deleted at once by a sweep (each one request to a bucket)."""


class Retention:
    def __init__(self, index: ImagesRepo, store: BlobStore, grace_seconds: int) -> None:
        self._index = index
        self._store = store
        self._grace = grace_seconds

    async def sweep(self, now: float | None = None) -> int:
        """Delete every image whose URL expired more than the grace period ago; how many went."""
        cutoff = int(time.time() if now is None else now) - self._grace
        return await sweep_in_batches(lambda: self._index.sweep(cutoff, self._remove))

    async def sweep_logged(self) -> None:
        await sweep_logged(self.sweep, "image", log)

    async def _remove(self, names: list[str]) -> None:
        await delete_all(self._store.delete, names)

    async def delete(self, principal: Principal, image_id: str) -> None:
        """The owner deletes an image (and its thumbnail) early; any other caller is told there is no such image."""
        image = await self._index.owned(image_id, principal.account_id) if is_id(image_id, "img") else None
        if image is None:
            raise NotFound("No such image.", code="image_not_found")
        # the thumbnail whether or not the row says so: one may be in the making (a first view) right now
        names = stored_names(image.id, image.ext, thumbnail=True)
        await self._remove(names)  # StorageUnavailable leaves the row, so a retry can finish it
        await self._index.forget(image_id)


__all__ = ["Retention"]
