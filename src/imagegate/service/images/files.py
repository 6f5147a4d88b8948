"""Downloads of stored images through their signed, expiring URLs (`/v1/files/…`); an image's
thumbnail is made on its first download (`thumbnails.py`)."""

from __future__ import annotations

from ...domain.blobs import Blob, image_of_thumbnail
from ...domain.errors import NotFound, PermissionDenied
from ...domain.ids import is_id
from ...domain.ports import BlobStore
from ...storage.signing import UrlSigner, Verdict
from .thumbnails import Thumbnails


class ImageFiles:
    def __init__(self, signer: UrlSigner, store: BlobStore, thumbnails: Thumbnails) -> None:
        self._signer = signer
        self._store = store
        self._thumbnails = thumbnails

    async def open(self, name: str, expires: str | None, signature: str | None, *, body: bool = True) -> Blob:
        """The image behind a signed URL (403 for a bad or expired URL, 404 when it is gone);
        `body=False` reads only its size and type (HEAD). A thumbnail's blob may be a redirect (`url`)."""
        verdict = self._signer.verify(name, expires, signature)
        if verdict is Verdict.BAD_SIGNATURE:
            raise PermissionDenied("The URL's signature is missing or invalid.", code="invalid_signature")
        if verdict is Verdict.EXPIRED:
            raise PermissionDenied("The URL has expired.", code="url_expired")
        image_id = image_of_thumbnail(name)
        if image_id is None:
            blob = await self._store.open(name, body=body)
        elif is_id(image_id, "img"):
            blob = await self._thumbnails.open(image_id, int(expires or 0), body=body)
        else:
            blob = None
        if blob is None:
            raise NotFound("No such image.", code="image_not_found")
        return blob

    async def check_store(self) -> None:
        """Raise `StorageUnavailable`, naming the bucket or folder, when the store cannot be used."""
        await self._store.check()


__all__ = ["ImageFiles"]
