"""The one HTTP client every upstream call goes through (providers and the moderation stage).

aiohttp, not httpx: forwarding a request cost 1.25–1.69 ms of CPU through httpx against 0.14 ms
through aiohttp on this project's load (`bench/micro_http.py`), and a gateway's whole budget is about
a millisecond. Wire modules see only `post()` and `UpstreamResponse`, and the two exception types
below, so the choice stays in this file.
"""

from __future__ import annotations

import functools
import resource
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

_JSON = {"Content-Type": "application/json"}
MAX_GET_BYTES = 16 * 1024 * 1024
"""Default cap of a GET answer (a model list is kilobytes; an image download passes its own)."""

EventSink = Callable[[str, str], Awaitable[None]]
"""Receives each server-sent event of a streamed answer: (event name, data text)."""


class UpstreamConnectionError(Exception):
    """The request did not get an answer: refused, reset, closed early, bad HTTP."""


class UpstreamTimeoutError(UpstreamConnectionError):
    """No complete answer within the timeout."""


class UpstreamBodyTooLarge(Exception):
    """The answer is longer than the caller's `max_bytes`; reading stopped there."""


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    """Case-insensitive, as HTTP headers are."""
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)


@dataclass(frozen=True, slots=True)
class FormFile:
    """One file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


def default_max_connections() -> int:
    """Half the open-file limit, less some for the database, files and listeners: every request in
    flight holds two descriptors (its client's socket and its upstream's)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, (soft - 256) // 2)


class UpstreamClient:
    """A pooled keep-alive client; the session is opened on first use, inside the running loop.

    Past `max_connections` a request waits for a free connection (within its own timeout) rather than
    failing with "too many open files", which would also count against the route's circuit.
    """

    def __init__(self, max_connections: int | None = None) -> None:
        self._max_connections = max_connections or default_max_connections()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30
            )
            # not trust_env: aiohttp would then read the environment and ~/.netrc in a worker thread on
            # every request (0.6 ms of CPU each); _proxy_for reads the same proxy settings once per host
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def post(
        self, url: str, *, json: Any, headers: Mapping[str, str] | None = None, timeout: float
    ) -> UpstreamResponse:
        """POST `json`; the whole answer, read within `timeout` seconds, whatever its status."""
        return await self._post(url, orjson.dumps(json), {**_JSON, **(headers or {})}, timeout)

    async def post_form(
        self,
        url: str,
        *,
        fields: Mapping[str, str],
        files: list[FormFile],
        headers: Mapping[str, str] | None = None,
        timeout: float,
    ) -> UpstreamResponse:
        """POST a `multipart/form-data` body (an edit); otherwise as `post`."""
        return await self._post(url, _form_data(fields, files), dict(headers or {}), timeout)

    async def _post(self, url: str, data: Any, headers: dict[str, str], timeout: float) -> UpstreamResponse:
        session = self._open()
        with _translated_errors(timeout):
            async with session.post(
                url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout), proxy=_proxy_for(url)
            ) as response:
                content = await response.read()
                return UpstreamResponse(response.status, response.reason or "", response.headers, content)

    async def post_events(
        self,
        url: str,
        *,
        on_event: EventSink,
        json: Any = None,
        fields: Mapping[str, str] | None = None,
        files: list[FormFile] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float,
    ) -> UpstreamResponse:
        """POST (JSON, or multipart when `files` is given) asking for server-sent events: each event of a
        200 `text/event-stream` answer goes to `on_event(event, data)` as it arrives (the response's
        `content` is then empty); any other answer is read whole, as `post` does."""
        session = self._open()
        data: Any
        if files is not None:
            data = _form_data(fields or {}, files)
            sent_headers = dict(headers or {})
        else:
            data, sent_headers = orjson.dumps(json), {**_JSON, **(headers or {})}
        with _translated_errors(timeout):
            async with session.post(
                url,
                data=data,
                headers=sent_headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                proxy=_proxy_for(url),
            ) as response:
                if response.status != 200 or not response.content_type.startswith("text/event-stream"):
                    content = await response.read()
                    return UpstreamResponse(response.status, response.reason or "", response.headers, content)
                await _read_events(response.content, on_event)
                return UpstreamResponse(response.status, response.reason or "", response.headers, b"")

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_GET_BYTES,
        timeout: float,
    ) -> UpstreamResponse:
        """GET `url` (a returned image, a model list); the whole answer, whatever its status, read within
        `timeout` seconds and at most `max_bytes` long."""
        session = self._open()
        with _translated_errors(timeout):
            async with session.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout), proxy=_proxy_for(url)
            ) as response:
                if response.content_length is not None and response.content_length > max_bytes:
                    raise UpstreamBodyTooLarge(f"{response.content_length} bytes announced, more than {max_bytes}")
                content = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    content += chunk
                    if len(content) > max_bytes:
                        raise UpstreamBodyTooLarge(f"more than {max_bytes} bytes")
                return UpstreamResponse(response.status, response.reason or "", response.headers, bytes(content))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextmanager
def _translated_errors(timeout: float) -> Iterator[None]:
    """aiohttp's and asyncio's failures as the two the providers map (timeout, connection)."""
    try:
        yield
    except TimeoutError as exc:  # asyncio's, and aiohttp's ServerTimeoutError, which subclasses it
        raise UpstreamTimeoutError(f"no answer within {timeout} s ({type(exc).__name__})") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamConnectionError(f"{type(exc).__name__}: {exc}") from exc


def _form_data(fields: Mapping[str, str], files: list[FormFile]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for file in files:
        form.add_field(file.field, file.data, filename=file.filename, content_type=file.content_type)
    return form


async def _read_events(stream: aiohttp.StreamReader, on_event: EventSink) -> None:
    """Server-sent events, line by line: `event:` and `data:` lines, dispatched at each blank line."""
    event, data, pending = "", list[str](), b""
    # not `async for line in stream`: aiohttp's readline refuses lines over 128 KiB, and one base64 image is MBs
    async for chunk in stream.iter_chunked(256 * 1024):
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8").rstrip("\r")
            if not line:
                if data:
                    await on_event(event or "message", "\n".join(data))
                event, data = "", []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
    if pending.strip().startswith(b"data:"):
        data.append(pending.decode("utf-8").strip()[5:].removeprefix(" "))
    if data:
        await on_event(event or "message", "\n".join(data))


@functools.cache
def _origin_proxy(scheme: str, host: str) -> str | None:
    if urllib.request.proxy_bypass(host):  # NO_PROXY
        return None
    return urllib.request.getproxies().get(scheme)


def _proxy_for(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY / NO_PROXY name for `url`, as any HTTP client honours them."""
    parts = urlsplit(url)
    return _origin_proxy(parts.scheme, parts.hostname or "")


__all__ = [
    "EventSink",
    "FormFile",
    "UpstreamBodyTooLarge",
    "UpstreamClient",
    "UpstreamConnectionError",
    "UpstreamResponse",
    "UpstreamTimeoutError",
]
