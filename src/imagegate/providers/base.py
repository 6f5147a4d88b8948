"""What every HTTP wire module shares: sending a request and translating transport failures once."""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from ..domain.upstream import RetryableUpstreamError, UpstreamTimedOut


@contextmanager
def map_transport_errors(route: str) -> Iterator[None]:
    """Turn httpx's exceptions into the domain's upstream problems, the most specific first."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamTimedOut(f"route {route}: upstream did not answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise RetryableUpstreamError(f"route {route}: connection failed ({type(exc).__name__}: {exc})") from exc


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


def json_body(response: httpx.Response, route: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise RetryableUpstreamError(f"route {route}: upstream sent a body that is not JSON") from exc


def error_object(body: Any) -> Mapping[str, Any]:
    """The `error` object of an error body, or an empty mapping when there is none."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return body["error"]
    return {}


def decode_b64(value: Any, route: str) -> bytes:
    if not isinstance(value, str):
        raise RetryableUpstreamError(f"route {route}: image data is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RetryableUpstreamError(f"route {route}: image data is not valid base64") from exc


__all__ = ["decode_b64", "error_object", "json_body", "map_transport_errors", "retry_after_seconds"]
