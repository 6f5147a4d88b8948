"""Images in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, GCS's S3 interface), through obstore.

obstore was measured against aiobotocore on a 2.4 MB put (docs/benchmarks.md, `bench/micro_s3.py`):
the same wall time against moto's server, half the client CPU. Every obstore failure is turned into
`StorageUnavailable` here, at the adapter's edge; a missing object is `None` (a GET or HEAD of a
deleted or expired image is then the caller's 404, not a 503).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from ..domain.blobs import Blob, content_type_of
from ..domain.errors import StorageUnavailable
from .urls import GatewayUrls

CHUNK_BYTES = 256 * 1024
"""A download holds at most about this much of an image in memory at once."""
_MISSING = (NotFoundError, FileNotFoundError)
"""Not found, by type: obstore 0.12 raises the builtin `FileNotFoundError` (an `OSError`, so it must be
caught before `_FAILURES`); its own `NotFoundError` is kept for the versions that raise that."""
_FAILURES = (BaseError, OSError, TimeoutError, RuntimeError)


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        options: Mapping[str, str],
        gateway_urls: GatewayUrls | None,
        timeout_seconds: float = 30.0,
    ) -> None:
        """`options` are obstore S3 config keys (`aws_endpoint_url`, `aws_region`, …); `gateway_urls`
        None hands out the bucket's own pre-signed URLs instead of the gateway's."""
        self.bucket = bucket
        self._prefix = prefix.strip("/")
        self._urls = gateway_urls
        endpoint = options.get("aws_endpoint_url_s3") or options.get("aws_endpoint_url") or ""
        client: dict[str, Any] = {
            "allow_http": endpoint.startswith("http://"),
            "connect_timeout": timedelta(seconds=min(5.0, timeout_seconds)),
            "timeout": timedelta(seconds=timeout_seconds),
        }
        retry: dict[str, Any] = {"max_retries": 2, "retry_timeout": timedelta(seconds=timeout_seconds)}
        self._store = S3Store(bucket, config=dict(options), client_options=client, retry_config=retry)  # type: ignore[arg-type]

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name

    async def put(self, image_id: str, ext: str, data: bytes) -> None:
        name = f"{image_id}.{ext}"
        try:
            await obstore.put_async(
                self._store, self._key(name), data, attributes={"Content-Type": content_type_of(name)}
            )
        except _FAILURES as exc:
            raise StorageUnavailable(f"The image could not be written to the bucket '{self.bucket}'.") from exc

    def url_for(self, image_id: str, ext: str, expires: int) -> str:
        name = f"{image_id}.{ext}"
        if self._urls is not None:
            return self._urls.url_for(image_id, ext, expires)
        # Signing is local (no request) with the configured credentials.
        lifetime = timedelta(seconds=max(1, expires - int(time.time())))
        return obstore.sign(self._store, "GET", self._key(name), lifetime)

    async def open(self, name: str, *, body: bool = True) -> Blob | None:
        try:
            if not body:
                meta = await obstore.head_async(self._store, self._key(name))
                return Blob(name, int(meta["size"]), content_type_of(name))
            result = await obstore.get_async(self._store, self._key(name))
        except _MISSING:
            return None
        except _FAILURES as exc:
            raise StorageUnavailable(f"The image could not be read from the bucket '{self.bucket}'.") from exc
        content_type = str(result.attributes.get("Content-Type") or content_type_of(name))
        return Blob(name, int(result.meta["size"]), content_type, chunks=_chunks(result))

    async def delete(self, name: str) -> None:
        try:
            await obstore.delete_async(self._store, self._key(name))
        except _MISSING:
            return
        except _FAILURES as exc:
            raise StorageUnavailable(f"The image could not be deleted from the bucket '{self.bucket}'.") from exc

    async def put_private(self, key: str, data: bytes) -> None:
        try:
            await obstore.put_async(self._store, self._key(key), data)
        except _FAILURES as exc:
            raise StorageUnavailable(f"An upload could not be written to the bucket '{self.bucket}'.") from exc

    async def get_private(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._store, self._key(key))
            return bytes(await result.bytes_async())
        except _MISSING:
            return None
        except _FAILURES as exc:
            raise StorageUnavailable(f"An upload could not be read from the bucket '{self.bucket}'.") from exc

    async def delete_private(self, key: str) -> None:
        await self.delete(key)

    async def check(self) -> None:
        try:
            await obstore.list_with_delimiter_async(self._store, self._prefix or None)
        except _FAILURES as exc:
            raise StorageUnavailable(
                f"The bucket '{self.bucket}' cannot be used (missing, unreachable or refusing): {_first_line(exc)}"
            ) from exc

    async def aclose(self) -> None:
        return None


async def _chunks(result: Any) -> AsyncIterator[bytes]:
    async for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
        yield memoryview(chunk)  # type: ignore[misc]  # the buffer itself, not a copy


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


__all__ = ["S3BlobStore"]
