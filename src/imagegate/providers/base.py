"""What every HTTP wire module shares: sending a request and translating transport failures once."""

from __future__ import annotations

import asyncio
import binascii
import email.utils
import logging
import time
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import pybase64

from ..domain.catalog import Route
from ..domain.errors import ContentBlocked
from ..domain.ports import PartialSink, Provider
from ..domain.request import ImageRequest
from ..domain.upstream import (
    GeneratedImage,
    RetryableUpstreamError,
    UpstreamProblem,
    UpstreamRejected,
    UpstreamTimedOut,
)
from .http_client import UpstreamClient, UpstreamConnectionError, UpstreamResponse, UpstreamTimeoutError

log = logging.getLogger("imagegate.providers")

Failure = ContentBlocked | UpstreamProblem
"""What one upstream call (or one item of a batch) may end in instead of an image."""


@contextmanager
def map_transport_errors(route: str) -> Iterator[None]:
    """Turn the HTTP client's exceptions into the domain's upstream problems, the most specific first."""
    try:
        yield
    except UpstreamTimeoutError as exc:
        raise UpstreamTimedOut(f"route {route}: upstream did not answer in time ({exc})") from exc
    except UpstreamConnectionError as exc:
        raise RetryableUpstreamError(f"route {route}: connection failed ({exc})") from exc


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, then `retry-after` as seconds or an HTTP date; None when absent or unreadable."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def json_body(response: UpstreamResponse, route: str) -> Any:
    """The upstream's JSON body (orjson: 2x faster than `json` on a 2.4 MB base64 image body)."""
    try:
        return orjson.loads(response.content)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise RetryableUpstreamError(f"route {route}: upstream sent a body that is not JSON") from exc


def error_object(body: Any) -> Mapping[str, Any]:
    """The `error` object of an error body, or an empty mapping when there is none."""
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else {}


def decode_b64(value: Any, route: str) -> bytes:
    """The image bytes of an upstream's base64 text (`value` is checked to be a str first)."""
    if not isinstance(value, str):
        raise RetryableUpstreamError(f"route {route}: image data is missing")
    try:
        # SIMD decoder: 0.1 ms per 1024² image against 5 ms for the stdlib's; the same strict rules
        # (alphabet, padding, nothing after it) as binascii.a2b_base64(strict_mode=True)
        return pybase64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RetryableUpstreamError(f"route {route}: image data is not valid base64") from exc


def passthrough_b64(value: str, data: bytes, request: ImageRequest) -> str | None:
    """`value` (already decoded to `data` by `decode_b64`) when a b64_json answer can reuse it as is.

    Only for b64_json requests (a url answer should not hold the text in memory), and only when it is
    the canonical encoding: strict decoding already allows only the alphabet and correct padding, so
    the one thing left to check is that the unused bits of the last quantum are zero (strict decoders
    on the client's side reject them), by re-encoding the last 1-3 bytes.
    """
    if request.response_format != "b64_json":
        return None
    tail = len(data) % 3 or 3
    if (
        len(value) != 4 * ((len(data) + 2) // 3)
        or binascii.b2a_base64(data[-tail:], newline=False) != value[-4:].encode()
    ):
        return None
    return value


async def gather_calls(calls: Sequence[Awaitable[list[GeneratedImage]]], route: str) -> list[GeneratedImage]:
    """Run one-image calls concurrently; see `keep_successes` for what comes back."""

    async def settle(call: Awaitable[list[GeneratedImage]]) -> list[GeneratedImage] | Failure:
        try:
            return await call
        except (ContentBlocked, UpstreamProblem) as failure:
            return failure

    return keep_successes(await asyncio.gather(*(settle(c) for c in calls)), route)


def keep_successes(results: Sequence[list[GeneratedImage] | Failure], route: str) -> list[GeneratedImage]:
    """The images of every part that succeeded (a partial result), or the most telling failure.

    When nothing succeeded: a safety refusal wins (it must not be retried), then a rejection of
    the gateway's request, then a timeout, then any other retryable problem.
    """
    images = [image for r in results if isinstance(r, list) for image in r]
    failures = [r for r in results if not isinstance(r, list)]
    if images:
        if failures:
            log.warning("route %s: %d of %d part(s) failed: %s", route, len(failures), len(results), failures[0])
        return images
    if not failures:
        raise RetryableUpstreamError(f"route {route}: upstream answered with no images")
    raise min(failures, key=_decisiveness)


def _decisiveness(failure: Failure) -> int:
    if isinstance(failure, ContentBlocked):
        return 0 if failure.code == "prompt_blocked" else 1
    if isinstance(failure, UpstreamRejected):
        return 2
    if isinstance(failure, UpstreamTimedOut):
        return 3
    return 4


async def completed_only(provider: Provider, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
    """`stream` of a wire format that does not stream: no partials, the completed images only."""
    if request.inputs:
        return await provider.edit(request, timeout=timeout)
    return await provider.generate(request, timeout=timeout)


class OneImagePerCall:
    """A wire format whose call makes one image: `n` calls in parallel, an edit's input images in the
    same call's body, nothing streamed. A provider says what a call sends (`payload`) and how its
    answer reads (`read`)."""

    def __init__(self, client: UpstreamClient, route: Route, url: str, headers: dict[str, str]) -> None:
        self._client = client
        self._route = route
        self._url = url
        self._headers = headers

    def payload(self, request: ImageRequest) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, response: UpstreamResponse, request: ImageRequest) -> list[GeneratedImage]:
        """The images of one call's answer, or the `Failure` it is raised."""
        raise NotImplementedError

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        payload = self.payload(request)
        return await gather_calls([self._call(payload, request, timeout) for _ in range(request.n)], self._route.name)

    async def edit(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """The same call, with the input images in its body."""
        return await self.generate(request, timeout=timeout)

    async def stream(self, request: ImageRequest, *, timeout: float, partial: PartialSink) -> list[GeneratedImage]:
        """Not streamed: the completed images only."""
        return await completed_only(self, request, timeout)

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by the app."""

    async def _call(self, payload: dict[str, Any], request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        with map_transport_errors(self._route.name):
            response = await self._client.post(self._url, json=payload, headers=self._headers, timeout=timeout)
        return self.read(response, request)


__all__ = [
    "Failure",
    "OneImagePerCall",
    "completed_only",
    "decode_b64",
    "error_object",
    "gather_calls",
    "json_body",
    "keep_successes",
    "map_transport_errors",
    "passthrough_b64",
    "retry_after_seconds",
]
