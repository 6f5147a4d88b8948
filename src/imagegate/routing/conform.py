"""A provider wrapper that checks every delivered image, so bad bytes are retried like a 5xx."""

from __future__ import annotations

from dataclasses import replace

from ..domain.catalog import parse_size
from ..domain.ports import Provider
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage
from ..images import conform_async


class ConformingProvider:
    """Hands back only images of exactly the requested size and format.

    Re-encodes when the upstream could not honour the format and upscales sizes the catalog marks
    `upscaled_from`; anything else (wrong size, undecodable bytes) raises `BadImage`, a retryable
    upstream problem.
    """

    def __init__(self, inner: Provider) -> None:
        self._inner = inner

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        images = await self._inner.generate(request, timeout=timeout)
        native = parse_size(request.upstream_size)
        conformed = []
        for image in images:
            data = await conform_async(
                image.data,
                want_format=request.output_format,
                want_size=(request.width, request.height),
                compression=request.output_compression,
                native_size=native,
            )
            conformed.append(image if data is image.data else replace(image, data=data))
        return conformed

    async def aclose(self) -> None:
        await self._inner.aclose()


__all__ = ["ConformingProvider"]
