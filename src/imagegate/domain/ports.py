"""The interfaces the service is written against; adapters outside `domain` implement them."""

from __future__ import annotations

from typing import Protocol

from .request import ImageRequest
from .upstream import GeneratedImage


class Provider(Protocol):
    """One upstream wire format, bound to one route's base URL, credentials and model id."""

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """Ask the upstream for `request.n` images at `request.upstream_size` (a provider that can
        draw any size, like the preview, may answer at `request.size` directly).

        Returns the images delivered (possibly fewer than asked). Raises `ContentBlocked` for a
        safety refusal and an `UpstreamProblem` for any other failure; never retries by itself.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class BlobStore(Protocol):
    """Where delivered images live, and how a client is handed a URL to one."""

    async def put(self, image_id: str, ext: str, data: bytes) -> None:
        """Store the bytes under `image_id.ext`; the write is complete when this returns."""
        ...

    def url_for(self, image_id: str, ext: str, expires: int) -> str:
        """A URL that fetches the image without a key until `expires` (unix seconds)."""
        ...


__all__ = ["BlobStore", "Provider"]
