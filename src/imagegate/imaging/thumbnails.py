"""Small WebP thumbnails of stored images, for the image library's grid.

Made once, when an image is stored (and stored beside it as `img_….thumb.webp`), never per view.
A JPEG is decoded at a reduced scale (`draft`); a PNG or WebP is decoded whole, then reduced. The work
runs in a worker thread under the pixel budget, like every other decode. A thumbnail that cannot be
made is no failure of the request: the image is delivered without one (the library shows the image).
"""

from __future__ import annotations

import io
import logging

import anyio.to_thread
from PIL import Image

from .pixels import reserve

log = logging.getLogger("imagegate.thumbnails")

THUMBNAIL_PX = 256
"""The longer side of a thumbnail, in pixels (sharp at the library grid's ~160 CSS px on a 1.5x screen)."""
WEBP_QUALITY = 75
_OPENERS = ("PNG", "JPEG", "WEBP")


def make_thumbnail(data: bytes) -> bytes:
    """A WebP at most THUMBNAIL_PX on its longer side, keeping the aspect ratio and any transparency."""
    box = (THUMBNAIL_PX, THUMBNAIL_PX)
    with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
        image.draft(image.mode, box)  # JPEG: decode at 1/2 to 1/8 scale; others ignore it
        image.thumbnail(box, Image.Resampling.BICUBIC, reducing_gap=2.0)
        ready: Image.Image = image
        if image.mode not in ("RGB", "RGBA"):
            alpha = image.mode in ("LA", "PA", "La", "RGBa") or image.has_transparency_data
            ready = image.convert("RGBA" if alpha else "RGB")
        out = io.BytesIO()
        ready.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


async def thumbnail_of(data: bytes, pixels: int) -> bytes | None:
    """`make_thumbnail` in a worker thread (`pixels`: the image's, reserved while it is decoded);
    None, logged, when the bytes do not make one."""
    async with reserve(pixels):
        try:
            return await anyio.to_thread.run_sync(make_thumbnail, data)
        except Exception:  # Pillow's decoders raise many types; the image itself was checked already
            log.exception("no thumbnail: the image did not decode")
            return None


__all__ = ["THUMBNAIL_PX", "make_thumbnail", "thumbnail_of"]
