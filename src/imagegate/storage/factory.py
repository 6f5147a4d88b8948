"""The blob store the settings name: `file:///path` (the default) or `s3://bucket/prefix`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config import Settings
from ..domain.ports import BlobStore
from .filesystem import FilesystemBlobStore
from .s3 import S3BlobStore
from .signing import UrlSigner
from .urls import GatewayUrls


def build_store(settings: Settings, signer: UrlSigner) -> BlobStore:
    url = settings.storage_url or (settings.data_dir / "images").as_uri()
    parts = urlsplit(url)
    if parts.scheme == "file":
        if settings.url_mode != "gateway":
            raise ValueError("IMAGEGATE_URL_MODE=bucket needs an s3:// IMAGEGATE_STORAGE_URL")
        return FilesystemBlobStore(Path(unquote(parts.path)), signer, settings.base_url())
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"IMAGEGATE_STORAGE_URL {url!r} names no bucket")
        urls = GatewayUrls(signer, settings.base_url()) if settings.url_mode == "gateway" else None
        return S3BlobStore(parts.netloc, parts.path, settings.storage_options, urls, settings.storage_timeout_seconds)
    raise ValueError(f"IMAGEGATE_STORAGE_URL must be file:///path or s3://bucket/prefix, not {url!r}")


__all__ = ["build_store"]
