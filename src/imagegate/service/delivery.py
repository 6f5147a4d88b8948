"""How delivered images reach the client: stored behind signed URLs, or inline as base64."""

from __future__ import annotations

import asyncio
from typing import Any

import pybase64

from ..db.images import ImageOwner, ImagesRepo
from ..domain.ports import BlobStore
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage
from ..ids import new_id


class Delivery:
    def __init__(self, store: BlobStore, url_ttl_seconds: int, index: ImagesRepo | None = None) -> None:
        self._store = store
        self._url_ttl = url_ttl_seconds
        self._index = index

    async def deliver(
        self, request: ImageRequest, images: list[GeneratedImage], created: int, owner: ImageOwner
    ) -> list[dict[str, Any]]:
        """The `data` items of the answer; stored images' URLs expire `url_ttl_seconds` after `created`."""
        if request.response_format == "b64_json":
            return [  # the upstream's own text when the bytes were not changed (saves ~2 ms per 2.4 MB)
                {
                    "b64_json": img.b64 if img.b64 is not None else pybase64.b64encode_as_string(img.data),
                    "revised_prompt": img.revised_prompt,
                }
                for img in images
            ]
        ext = request.output_format
        expires = created + self._url_ttl
        ids = [new_id("img") for _ in images]
        if self._index is not None:  # known before stored, so the retention sweeper never misses one
            await self._index.record(owner, ids, ext, expires)
        await asyncio.gather(
            *(self._store.put(image_id, ext, img.data) for image_id, img in zip(ids, images, strict=True))
        )
        return [
            {"url": self._store.url_for(image_id, ext, expires), "revised_prompt": img.revised_prompt}
            for image_id, img in zip(ids, images, strict=True)
        ]


__all__ = ["Delivery"]
