"""The blob store the settings name: `file:///path` (the default) or `s3://bucket/prefix`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config.sections import NodeSettings, StorageSettings
from ..domain.ports import BlobStore
from .filesystem import FilesystemBlobStore
from .s3 import S3BlobStore
from .signing import UrlSigner
from .urls import GatewayUrls


def build_store(
    storage: StorageSettings, node: NodeSettings, s3_options: Mapping[str, str], signer: UrlSigner
) -> BlobStore:
    """`node`: the data dir (the default store) and the base of the gateway's own URLs;
    `s3_options`: the `AWS_*` variables, as obstore's config keys."""
    url = storage.url or (node.data_dir / "images").as_uri()
    parts = urlsplit(url)
    if parts.scheme == "file":
        if storage.url_mode != "gateway":
            raise ValueError("IMAGEGATE_URL_MODE=bucket needs an s3:// IMAGEGATE_STORAGE_URL")
        return FilesystemBlobStore(Path(unquote(parts.path)), signer, node.base_url())
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"IMAGEGATE_STORAGE_URL {url!r} names no bucket")
        urls = GatewayUrls(signer, node.base_url()) if storage.url_mode == "gateway" else None
        return S3BlobStore(parts.netloc, parts.path, s3_options, urls, storage.timeout_seconds)
    raise ValueError(f"IMAGEGATE_STORAGE_URL must be file:///path or s3://bucket/prefix, not {url!r}")


__all__ = ["build_store"]
