"""What a blob store hands back when an image is read: its size, type and where its bytes come from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
THUMBNAIL_EXT = "thumb.webp"
"""An image's thumbnail is stored beside it as `img_….thumb.webp` once it is first viewed (the library's grid)."""


@dataclass(frozen=True, slots=True)
class Blob:
    """One stored image, ready to send.

    A store on local disk gives `path` (sent zero-copy); a remote store gives `chunks`, an
    iterator over the body that holds at most one chunk in memory. A `head` read gives neither.
    `url`: where the client fetches it instead (the bucket's own pre-signed URL): a redirect.
    """

    name: str
    size: int
    content_type: str
    path: Path | None = None
    chunks: AsyncIterator[bytes] | None = None
    url: str | None = None


def content_type_of(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def image_of_thumbnail(name: str) -> str | None:
    """The image id whose thumbnail `name` is (`img_….thumb.webp`), or None for any other name."""
    image_id = name.removesuffix(f".{THUMBNAIL_EXT}")
    return image_id if image_id != name else None


def stored_names(image_id: str, ext: str, *, thumbnail: bool) -> list[str]:
    """The objects one stored image is made of: the image, and its thumbnail where it has one."""
    return [f"{image_id}.{ext}", *([f"{image_id}.{THUMBNAIL_EXT}"] if thumbnail else [])]


__all__ = ["CONTENT_TYPES", "THUMBNAIL_EXT", "Blob", "content_type_of", "image_of_thumbnail", "stored_names"]
