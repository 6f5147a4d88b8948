"""Fetching an image an upstream answered with a URL (another imagegate, many OpenAI-compatible servers).

Bounded in size and in time (what is left of the attempt's timeout); the bytes then go through the
same checks as any upstream image (`routing.conform`). A failed download is a retryable upstream
problem, like a 5xx: the whole call is retried, then failed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..domain.upstream import RetryableUpstreamError
from .base import map_transport_errors
from .http_client import UpstreamBodyTooLarge, UpstreamClient

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
"""The largest image downloaded from an upstream's URL unless the route's `options.download_max_bytes` says."""
MIN_TIMEOUT = 1.0


def download_limit(options: Mapping[str, Any]) -> int:
    return int(options.get("download_max_bytes", DEFAULT_MAX_BYTES))


async def download_image(
    client: UpstreamClient, url: str, base_url: str, *, route: str, max_bytes: int, timeout: float
) -> bytes:
    """The bytes at `url` (relative URLs are resolved against the upstream's `base_url`)."""
    absolute = urljoin(base_url, url)
    if urlsplit(absolute).scheme not in ("http", "https"):
        raise RetryableUpstreamError(f"route {route}: upstream answered an image URL that is not http(s)")
    try:
        with map_transport_errors(route):
            response = await client.get(absolute, max_bytes=max_bytes, timeout=max(MIN_TIMEOUT, timeout))
    except UpstreamBodyTooLarge as exc:
        raise RetryableUpstreamError(f"route {route}: the image at the upstream's URL is too large ({exc})") from exc
    if response.status_code != 200:
        raise RetryableUpstreamError(
            f"route {route}: downloading the upstream's image URL answered {response.status_code}"
        )
    if not response.content:
        raise RetryableUpstreamError(f"route {route}: the upstream's image URL answered no bytes")
    return response.content


__all__ = ["DEFAULT_MAX_BYTES", "download_image", "download_limit"]
