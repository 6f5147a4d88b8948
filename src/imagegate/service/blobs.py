"""A stored blob's bytes, wherever the store keeps them."""

from __future__ import annotations

import anyio

from ..domain.blobs import Blob


async def read_blob(blob: Blob) -> bytes | None:
    """The bytes of an opened blob: a file on disk (read off the event loop) or a remote store's body;
    None when its file was deleted since it was opened."""
    if blob.path is not None:
        try:
            return await anyio.Path(blob.path).read_bytes()
        except FileNotFoundError:
            return None
    return b"".join([bytes(chunk) async for chunk in blob.chunks]) if blob.chunks is not None else b""


__all__ = ["read_blob"]
