"""Fetching an input image a client named by an `https://` URL (`ports.ImageUrlReader`).

A customer chooses the URL, so this client follows the rules of `outbound` (as the webhook sender
does): no redirects, no proxy, and on a public node it connects only to public addresses, judged in
the resolver the connection itself uses (no DNS rebinding between check and connect) and, for an
address literal, on the host as aiohttp's URL parser reads it. It reads at most the image limit and gives up after
`FETCH_TIMEOUT_SECONDS`; the bytes are then checked and decoded like an uploaded image (Pillow's
pixel guard included) by the edit they feed.
"""

from __future__ import annotations

import aiohttp

from ..domain.ports import ImageUrlTooLarge, ImageUrlUnreadable
from .outbound import customer_session, failures_as, literal_refusal

FETCH_TIMEOUT_SECONDS = 15.0
"""The whole fetch, connecting included: an image URL that takes longer is refused."""
CONNECT_TIMEOUT_SECONDS = 5.0
CHUNK_BYTES = 64 * 1024
_HEADERS = {"Accept": "image/png, image/jpeg, image/webp", "User-Agent": "imagegate (input image)"}


class ImageUrlFetcher:
    """`public`: this node's address rules apply (see the module docstring)."""

    def __init__(self, *, public: bool, timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self._public = public
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout))
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = customer_session(public=self._public, headers=_HEADERS)
        return self._session

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        refused = literal_refusal(url) if self._public else None
        if refused is not None:
            raise ImageUrlUnreadable(f"it points at {refused}, which a public gateway does not fetch")
        with failures_as(ImageUrlUnreadable, self._timeout):
            async with self._open().get(url, allow_redirects=False, timeout=self._timeout) as response:
                if response.status != 200:
                    raise ImageUrlUnreadable(_status_reason(response.status))
                if response.content_length is not None and response.content_length > max_bytes:
                    raise ImageUrlTooLarge(f"it is {response.content_length} bytes")
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    data += chunk
                    if len(data) > max_bytes:
                        raise ImageUrlTooLarge(f"it is more than {max_bytes} bytes")
        if not data:
            raise ImageUrlUnreadable("it answered no bytes")
        return bytes(data)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _status_reason(status: int) -> str:
    if 300 <= status < 400:
        return f"it answered a redirect ({status}); the gateway does not follow redirects, so send the final URL"
    return f"it answered HTTP {status}"


__all__ = ["FETCH_TIMEOUT_SECONDS", "ImageUrlFetcher"]
