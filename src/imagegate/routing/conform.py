"""A provider wrapper that checks every delivered image, so bad bytes are retried like a 5xx."""

from __future__ import annotations

import logging
from dataclasses import replace

from ..domain.catalog import Route, parse_size
from ..domain.ports import Provider
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, RetryableUpstreamError
from ..images import BadImage, conform_viewed_async, inspect
from .wrapper import ProviderWrapper, UpstreamCall

log = logging.getLogger("imagegate.routing")


class ConformingProvider(ProviderWrapper):
    """Hands back only images of exactly the requested size, format and compression.

    Re-encodes when the route could not honour the format or the compression, and upscales sizes
    the route marks `upscaled_from`. An image that is anything else (wrong size, undecodable bytes)
    is dropped; when no image is left, that is a `BadImage`, a retryable upstream problem, and an
    upstream that delivered nothing at all is one too. Never returns an empty list.
    """

    def __init__(self, inner: Provider, route: Route, *, view_side: int | None = None) -> None:
        """`view_side`: output screening is on; where an image is decoded anyway, keep its view that size."""
        super().__init__(inner)
        self._route = route
        self._view_side = view_side

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        images = await call()
        if not images:
            raise RetryableUpstreamError(f"route {self._route.name}: upstream delivered no images")
        native = None if request.auto_size else parse_size(request.upstream_size)
        compression = request.output_compression
        reencode = not self._route.native_compression and compression is not None and compression < 100
        conformed: list[GeneratedImage] = []
        bad: list[BadImage] = []
        for image in images:
            try:
                want = self._auto_size(image, request) if request.auto_size else (request.width, request.height)
                data, view = await conform_viewed_async(
                    image.data,
                    want_format=request.output_format,
                    want_size=want,
                    compression=compression,
                    native_size=native,
                    reencode=reencode,
                    view_side=self._view_side,
                )
            except BadImage as exc:
                bad.append(exc)
                continue
            if request.auto_size:
                image = replace(image, size=f"{want[0]}x{want[1]}")
            conformed.append(image if data is image.data else replace(image, data=data, b64=None, view=view))
        if bad:
            log.warning("route %s: %d of %d image(s) unusable: %s", self._route.name, len(bad), len(images), bad[0])
            if not conformed:
                raise BadImage(f"route {self._route.name}: {bad[0].message}")
        return conformed

    @staticmethod
    def _auto_size(image: GeneratedImage, request: ImageRequest) -> tuple[int, int]:
        """For `size: "auto"`: the size the upstream drew, when it is one the model may pick."""
        info = inspect(image.data)
        if f"{info.width}x{info.height}" not in request.model.capabilities.extra.auto_sizes:
            raise BadImage(
                f"upstream returned {info.width}x{info.height} for size auto, not one of the model's auto sizes"
            )
        return info.size


__all__ = ["ConformingProvider"]
