"""Downloads of stored images through their signed, expiring URLs (`/v1/files/…`)."""

from __future__ import annotations

from ...domain.blobs import Blob
from ...domain.errors import NotFound, PermissionDenied
from ...domain.ports import BlobStore
from ...storage.signing import UrlSigner, Verdict


class ImageFiles:
    def __init__(self, signer: UrlSigner, store: BlobStore) -> None:
        self._signer = signer
        self._store = store

    async def open(self, name: str, expires: str | None, signature: str | None, *, body: bool = True) -> Blob:
        """The image behind a signed URL (403 for a bad or expired URL, 404 when it is gone);
        `body=False` reads only its size and type (HEAD)."""
        verdict = self._signer.verify(name, expires, signature)
        if verdict is Verdict.BAD_SIGNATURE:
            raise PermissionDenied("The URL's signature is missing or invalid.", code="invalid_signature")
        if verdict is Verdict.EXPIRED:
            raise PermissionDenied("The URL has expired.", code="url_expired")
        blob = await self._store.open(name, body=body)
        if blob is None:
            raise NotFound("No such image.", code="image_not_found")
        return blob

    async def check_store(self) -> None:
        """Raise `StorageUnavailable`, naming the bucket or folder, when the store cannot be used."""
        await self._store.check()


__all__ = ["ImageFiles"]
