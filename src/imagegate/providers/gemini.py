"""Gemini native image output ("Nano Banana"): `POST {base}/models/{model}:generateContent`.

One image per call, so `n` images are `n` concurrent calls, and some may fail while others succeed
(a partial result). A client size becomes exactly one (`aspectRatio`, `imageSize`) pair through a
table built from the model's catalog sizes (`size_table`); the bytes that come back are checked
against that size by the gateway.

Safety arrives as HTTP 200: `promptFeedback.blockReason` (prompt refused) or a candidate whose
`finishReason` is a policy reason and which has no image (output refused). A 200 with neither an
image nor a block reason is an upstream failure, retried like a 5xx.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pybase64

from ..domain.catalog import Route, parse_size
from ..domain.credentials import Credentials
from ..domain.errors import ContentBlocked
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, RetryableUpstreamError, UpstreamRejected
from .base import (
    OneImagePerCall,
    decode_b64,
    error_object,
    json_body,
    passthrough_b64,
    retry_after_seconds,
)
from .credentials import key_and_base_url
from .http_client import UpstreamClient, UpstreamResponse
from .usage import gemini_usage

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "1:4", "4:1", "1:8", "8:1")
"""Every `imageConfig.aspectRatio` the Gemini API knows (Nano Banana 2 has all; Pro the first ten)."""

IMAGE_SIZES: Mapping[str, int] = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}
"""`imageConfig.imageSize` values and the square side each stands for (uppercase K is required)."""

RATIO_TOLERANCE = 0.03
"""How far (relatively) a catalog size may be from its aspect ratio: Gemini's sizes are rounded to 16 px."""

OUTPUT_BLOCK_REASONS = frozenset(
    {
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "SAFETY",
        "PROHIBITED_CONTENT",
        "RECITATION",
        "BLOCKLIST",
        "SPII",
    }
)
"""`finishReason`s that are policy refusals of the output. Others without an image (NO_IMAGE,
IMAGE_OTHER, OTHER, STOP with only text) are failures, retried."""

RETRYABLE_STATUSES = frozenset({408, 429})
KEY_REJECTED_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})


class SizeNotSupported(ValueError):
    """A catalog size that no (aspectRatio, imageSize) pair describes, or two sizes that share one."""


def image_config(width: int, height: int) -> tuple[str, str]:
    """The (aspectRatio, imageSize) pair of a pixel size: nearest ratio, nearest size tier (log scale)."""
    ratio = width / height
    aspect = min(ASPECT_RATIOS, key=lambda r: abs(math.log(ratio / _ratio(r))))
    if abs(ratio / _ratio(aspect) - 1) > RATIO_TOLERANCE:
        raise SizeNotSupported(f"{width}x{height} is not near any Gemini aspect ratio")
    side = math.sqrt(width * height)
    tier = min(IMAGE_SIZES, key=lambda t: abs(math.log(side / IMAGE_SIZES[t])))
    return aspect, tier


@functools.lru_cache(maxsize=64)
def size_table(sizes: tuple[str, ...]) -> Mapping[str, tuple[str, str]]:
    """Catalog size -> (aspectRatio, imageSize); one-to-one, or `SizeNotSupported`."""
    table: dict[str, tuple[str, str]] = {}
    for size in sizes:
        pair = image_config(*parse_size(size))
        clash = next((other for other, p in table.items() if p == pair), None)
        if clash is not None:
            raise SizeNotSupported(f"{clash} and {size} would both be {pair}")
        table[size] = pair
    return table


def _ratio(aspect: str) -> float:
    w, _, h = aspect.partition(":")
    return int(w) / int(h)


CREDENTIALS = key_and_base_url("gemini", "GEMINI", "https://generativelanguage.googleapis.com/v1beta", "Gemini")


class GeminiImages(OneImagePerCall):
    """Implements `domain.ports.Provider` for one Gemini route (`generateContent` is not streamed)."""

    def __init__(self, client: UpstreamClient, route: Route, api_key: str, base_url: str) -> None:
        url = f"{base_url.rstrip('/')}/models/{route.upstream_model}:generateContent"
        super().__init__(client, route, url, {"x-goog-api-key": api_key})

    def payload(self, request: ImageRequest) -> dict[str, Any]:
        aspect, image_size = self._pair(request)
        images = [
            {"inlineData": {"mimeType": i.mime_type, "data": pybase64.b64encode_as_string(i.data)}}
            for i in request.inputs
        ]
        return {
            "contents": [{"role": "user", "parts": [{"text": request.upstream_prompt}, *images]}],
            "generationConfig": {
                "responseModalities": ["IMAGE"],
                "imageConfig": {"aspectRatio": aspect, "imageSize": image_size},
            },
        }

    def _pair(self, request: ImageRequest) -> tuple[str, str]:
        natives = tuple(sorted({self._route.native_size(s) for s in request.model.capabilities.sizes}))
        try:
            return size_table(natives)[request.upstream_size]
        except (SizeNotSupported, KeyError) as exc:
            raise UpstreamRejected(
                f"route {self._route.name}: no Gemini image size for {request.upstream_size}: {exc}"
            ) from exc

    def read(self, response: UpstreamResponse, request: ImageRequest) -> list[GeneratedImage]:
        if response.status_code != 200:
            raise self._failure(response)
        body = json_body(response, self._route.name)
        if not isinstance(body, dict):
            raise RetryableUpstreamError(f"route {self._route.name}: upstream answered 200 with a non-object body")
        feedback = body.get("promptFeedback")
        block = feedback.get("blockReason") if isinstance(feedback, dict) else None
        if block and block != "BLOCK_REASON_UNSPECIFIED":
            raise ContentBlocked(f"The prompt was blocked by the upstream's safety system ({block}).")
        candidates = [c for c in body.get("candidates") or () if isinstance(c, dict)]
        data = next(_image_parts(candidates), None)
        if data is not None:
            image = decode_b64(data, self._route.name)
            b64 = passthrough_b64(data, image, request)
            return [
                GeneratedImage(data=image, revised_prompt=request.upstream_prompt, b64=b64, usage=gemini_usage(body))
            ]
        reasons = [str(c.get("finishReason")) for c in candidates]
        blocked = next((r for r in reasons if r in OUTPUT_BLOCK_REASONS), None)
        if blocked is not None:
            raise ContentBlocked(
                f"The generated image was blocked by the upstream's safety system ({blocked}).", code="output_blocked"
            )
        raise RetryableUpstreamError(
            f"route {self._route.name}: upstream answered 200 with no image (finishReason {reasons or 'none'})"
        )

    def _failure(self, response: UpstreamResponse) -> Exception:
        try:
            error = error_object(response.json())
        except ValueError:
            error = {}
        status = response.status_code
        details = [d for d in error.get("details") or () if isinstance(d, dict)]
        reasons = {str(d.get("reason")) for d in details if d.get("reason")}
        message = f"route {self._route.name}: upstream {status} {error.get('status') or ''} {sorted(reasons) or ''}: {error.get('message') or response.reason_phrase}"
        if status >= 500 or status in RETRYABLE_STATUSES:
            retry_after = _retry_delay(details)
            return RetryableUpstreamError(
                message, retry_after=retry_after if retry_after is not None else retry_after_seconds(response.headers)
            )
        if reasons & KEY_REJECTED_REASONS:
            return UpstreamRejected(f"{message} (the gateway's Gemini API key was refused)")
        return UpstreamRejected(message)


def _image_parts(candidates: Iterable[dict[str, Any]]) -> Iterator[Any]:
    """The base64 data of each final image part; interim `thought` images are skipped."""
    for candidate in candidates:
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts or ():
            if not isinstance(part, dict) or part.get("thought"):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict) and str(inline.get("mimeType") or inline.get("mime_type") or "").startswith(
                "image/"
            ):
                yield inline.get("data")


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """`google.rpc.RetryInfo.retryDelay` ("26s", "1.5s") in seconds, when the error carries one."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            try:
                return max(0.0, float(delay.removesuffix("s")))
            except ValueError:
                return None
    return None


def build(route: Route, credentials: Credentials, client: UpstreamClient) -> GeminiImages | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return GeminiImages(client, route, credentials.api_key, credentials.base_url)


__all__ = [
    "ASPECT_RATIOS",
    "CREDENTIALS",
    "IMAGE_SIZES",
    "GeminiImages",
    "SizeNotSupported",
    "build",
    "image_config",
    "size_table",
]
