"""The gateway's C2PA manifest embedded in a route's delivered images, once the route has delivered.

It runs after the route's attempts, not inside them: an image the gateway cannot sign is the gateway's
problem, not the upstream's, so it is neither retried (the upstream asked, and paid, again) nor
counted against the route's circuit; and only the images handed back are signed.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ..domain.ports import ImageMarker
from ..domain.upstream import GeneratedImage


async def mark_delivered(marker: ImageMarker, images: list[GeneratedImage]) -> list[GeneratedImage]:
    """Each image with the manifest its `provenance` describes embedded (all at once, in the thread
    pool); raises `MarkingFailed` when one cannot carry it."""

    async def mark(image: GeneratedImage) -> GeneratedImage:
        if image.provenance is None:
            return image
        data = await marker.mark(image.data, image.provenance)
        # the pixels are as they were, so output screening's `view` stays; the upstream's bytes are let go
        return replace(image, data=data, b64=None, provenance=None)

    return list(await asyncio.gather(*(mark(image) for image in images)))


__all__ = ["mark_delivered"]
