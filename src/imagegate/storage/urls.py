"""The gateway's own download URLs: `/v1/files/{name}?expires=…&signature=…`, HMAC-signed."""

from __future__ import annotations

from .signing import UrlSigner


class GatewayUrls:
    def __init__(self, signer: UrlSigner, public_base_url: str) -> None:
        self._signer = signer
        self._base = public_base_url.rstrip("/")

    def url_for(self, image_id: str, ext: str, expires: int) -> str:
        name = f"{image_id}.{ext}"
        return f"{self._base}/v1/files/{name}?expires={expires}&signature={self._signer.signature(name, expires)}"


__all__ = ["GatewayUrls"]
