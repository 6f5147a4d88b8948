"""The caller's image library (`GET /v1/images`): their stored images, newest first, searched by prompt.

Only images delivered as URLs are stored, so only those are listed (an answer in `b64_json`, a chat
data URL or a Responses `result` is inline and kept nowhere); an image is listed while its URL is
valid and leaves the library when it is deleted or swept. Each item's URLs are signed until the
moment the first answer's URL expires, never longer. Every item has a `thumbnail_url`, always the
gateway's own (the thumbnail is made when that URL is first fetched: `thumbnails.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ...db.images import ImagesRepo, StoredImage
from ...domain.blobs import THUMBNAIL_EXT
from ...domain.catalog import Catalog
from ...domain.image_library import read_library_query
from ...domain.principal import Principal

UrlFor = Callable[[str, str, int], str]
"""`url_for(image_id, ext, expires)`: a download URL signed until `expires`."""


class ImageLibrary:
    def __init__(
        self,
        index: ImagesRepo,
        url_for: UrlFor,
        thumbnail_url_for: UrlFor,
        catalog: Catalog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`url_for`: the blob store's (a bucket's own URL in bucket mode); `thumbnail_url_for`: the
        gateway's `/v1/files/…` URLs, which make a thumbnail on its first view."""
        self._index = index
        self._url_for = url_for
        self._thumbnail_url_for = thumbnail_url_for
        self._catalog = catalog
        self._clock = clock

    async def page(
        self,
        principal: Principal,
        *,
        query: str | None = None,
        model: str | None = None,
        after: str | None = None,
        limit: str | None = None,
    ) -> dict[str, Any]:
        """One page of the library, OpenAI's list shape with `has_more` and the ids to page on."""
        wanted = read_library_query(query, model, after, limit, resolve_model=self._model_id)
        found: list[StoredImage] = []
        if not wanted.matches_nothing:
            found = await self._index.library(principal.account_id, int(self._clock()), wanted)
        shown = found[: wanted.limit]
        return {
            "object": "list",
            "data": [self._item(image, principal.currency) for image in shown],
            "first_id": shown[0].id if shown else None,
            "last_id": shown[-1].id if shown else None,
            "has_more": len(found) > wanted.limit,
        }

    def _model_id(self, name: str) -> str:
        model = self._catalog.find(name)
        return model.id if model is not None else name

    def _item(self, image: StoredImage, currency: str) -> dict[str, Any]:
        return {
            "id": image.id,
            "object": "image",
            "url": self._url_for(image.id, image.ext, image.expires),
            "thumbnail_url": self._thumbnail_url_for(image.id, THUMBNAIL_EXT, image.expires),
            "prompt": image.prompt,
            "revised_prompt": image.revised_prompt,
            "model": image.model,
            "size": image.size,
            "quality": image.quality,
            "output_format": image.ext,
            "cost_micros": image.cost_micros,
            "currency": currency,
            "created": image.created,
            "expires": image.expires,
            "request_id": image.request_id,
            "surface": image.surface,
        }


__all__ = ["ImageLibrary"]
