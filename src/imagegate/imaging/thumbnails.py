"""Small WebP thumbnails of stored images, for the image library's grid.

Made once, the first time an image's thumbnail URL is fetched (and stored beside it as
`img_….thumb.webp`), never per view and never for an image nobody looks at in the library. The size
is read from the header first: an image past `MAX_SOURCE_PIXELS` is refused before any pixel is
decoded (the edit inputs' decompression-bomb rule), and the decode reserves its pixels from the
process's pixel budget. A JPEG is decoded at a reduced scale (`draft`); a PNG or WebP is decoded
whole, then reduced, in a worker thread. An image that does not make one is no failure: the caller
is shown the image itself.
"""

from __future__ import annotations

import io
import logging

import anyio.to_thread
from PIL import Image

from .heap import after_image
from .inputs import MAX_INPUT_PIXELS
from .pixels import reserve

log = logging.getLogger("imagegate.thumbnails")

THUMBNAIL_PX = 256
"""The longer side of a thumbnail, in pixels (sharp at the library grid's ~160 CSS px on a 1.5x screen)."""
WEBP_QUALITY = 75
MAX_SOURCE_PIXELS = MAX_INPUT_PIXELS
"""The largest image a thumbnail is made of; a larger one (no gateway makes one) is not decoded."""
_OPENERS = ("PNG", "JPEG", "WEBP")


class NoThumbnail(Exception):
    """The bytes are no PNG, JPEG or WebP within `MAX_SOURCE_PIXELS` that decodes."""


def source_size(data: bytes) -> tuple[int, int]:
    """The image's (width, height) from its header alone; `NoThumbnail` past `MAX_SOURCE_PIXELS` (well
    under Pillow's own decompression-bomb limit, which refuses at `Image.open`)."""
    with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
        width, height = image.size
    if width <= 0 or height <= 0 or width * height > MAX_SOURCE_PIXELS:
        raise NoThumbnail(f"an image of {width}x{height} gets no thumbnail")
    return width, height


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


async def thumbnail_of(data: bytes) -> bytes | None:
    """`make_thumbnail` in a worker thread, the image's pixels (read from its header) reserved while it
    is decoded; None, logged, when the bytes do not make one."""
    try:
        width, height = await anyio.to_thread.run_sync(source_size, data)
        async with reserve(width * height):
            thumbnail = await anyio.to_thread.run_sync(make_thumbnail, data)
    except Exception as exc:  # Pillow's decoders raise many types; NoThumbnail for a refused size
        log.warning("no thumbnail: the image did not decode (%s)", exc)
        return None
    after_image(width, height)  # a large one: its freed heap goes back to the OS soon
    return thumbnail


__all__ = ["MAX_SOURCE_PIXELS", "THUMBNAIL_PX", "NoThumbnail", "make_thumbnail", "source_size", "thumbnail_of"]
