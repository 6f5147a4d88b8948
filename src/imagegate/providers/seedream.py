"""Seedream on BytePlus ModelArk / Volcengine Ark: `POST {base}/images/generations` with a Bearer key.

Each call asks for one independent image (`sequential_image_generation: disabled`; Ark's "group"
mode makes related images and may make fewer), so `n` images are `n` concurrent calls. Ark answers
JPEG only; the gateway re-encodes when the client asked for PNG or WEBP. `watermark` is off unless
the route's `options.watermark` is true.

Refusals are structured codes: `InputTextSensitiveContentDetected`, `InputImageSensitiveContentDetected`
and `SensitiveContentDetected[.…]` refuse the prompt, `OutputImageSensitiveContentDetected` the
output, either as the error of the whole call or as the `error` of one item of `data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pybase64

from ..domain.catalog import Route
from ..domain.credentials import Credentials
from ..domain.errors import ContentBlocked
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, RetryableUpstreamError, UpstreamProblem, UpstreamRejected
from .base import (
    Failure,
    OneImagePerCall,
    decode_b64,
    error_object,
    json_body,
    keep_successes,
    passthrough_b64,
    retry_after_seconds,
)
from .credentials import key_and_base_url
from .http_client import UpstreamClient, UpstreamResponse
from .usage import seedream_usage, with_usage

PROMPT_BLOCK_CODES = frozenset(
    {"InputTextSensitiveContentDetected", "InputImageSensitiveContentDetected", "SensitiveContentDetected"}
)
OUTPUT_BLOCK_CODES = frozenset({"OutputImageSensitiveContentDetected"})
RETRYABLE_STATUSES = frozenset({408, 429})

CREDENTIALS = key_and_base_url(
    "ark", "ARK", "https://ark.ap-southeast.bytepluses.com/api/v3", "Seedream", key_note=" (BytePlus ModelArk)"
)


class SeedreamImages(OneImagePerCall):
    """Implements `domain.ports.Provider` for one Ark route (Ark streams whole images, not partials:
    not streamed; an edit's reference images go in the `image` field)."""

    def __init__(self, client: UpstreamClient, route: Route, api_key: str, base_url: str) -> None:
        super().__init__(
            client, route, base_url.rstrip("/") + "/images/generations", {"Authorization": f"Bearer {api_key}"}
        )

    def payload(self, request: ImageRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._route.upstream_model,
            "prompt": request.upstream_prompt,
            "size": request.upstream_size,
            "sequential_image_generation": "disabled",
            "response_format": "b64_json",
            "stream": False,
            "watermark": bool(self._route.options.get("watermark", False)),
        }
        if request.inputs:  # reference images as data URLs (lower-case format name, as Ark requires)
            urls = [f"data:image/{i.format};base64,{pybase64.b64encode_as_string(i.data)}" for i in request.inputs]
            body["image"] = urls[0] if len(urls) == 1 else urls
        return body

    def read(self, response: UpstreamResponse, request: ImageRequest) -> list[GeneratedImage]:
        if response.status_code != 200:
            try:
                error = error_object(response.json())
            except ValueError:
                error = {}
            raise self._failure(error, response.status_code, response.headers, response.reason_phrase)
        body = json_body(response, self._route.name)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            if error_object(body):
                raise self._failure(error_object(body), response.status_code, response.headers, "")
            raise RetryableUpstreamError(f"route {self._route.name}: upstream answered 200 with no images")
        images = keep_successes([self._item(item, request) for item in items], self._route.name)
        return with_usage(images, seedream_usage(body))

    def _item(self, item: Any, request: ImageRequest) -> list[GeneratedImage] | Failure:
        if not isinstance(item, dict):
            return RetryableUpstreamError(f"route {self._route.name}: an item of data is not an object")
        if isinstance(item.get("error"), dict):
            return self._failure(item["error"], 200, {}, "")
        value = item.get("b64_json")
        try:
            data = decode_b64(value, self._route.name)
        except UpstreamProblem as problem:
            return problem
        return [
            GeneratedImage(
                data=data, revised_prompt=request.upstream_prompt, b64=passthrough_b64(str(value), data, request)
            )
        ]

    def _failure(self, error: Mapping[str, Any], status: int, headers: Mapping[str, str], reason: str) -> Failure:
        code = str(error.get("code") or "")
        family = code.split(".", 1)[0]
        if family in PROMPT_BLOCK_CODES:
            return ContentBlocked(f"The prompt was blocked by the upstream's safety system ({code}).")
        if family in OUTPUT_BLOCK_CODES:
            return ContentBlocked(
                f"The generated image was blocked by the upstream's safety system ({code}).", code="output_blocked"
            )
        message = f"route {self._route.name}: upstream {status} {code}: {error.get('message') or reason}"
        if status >= 500 or status in RETRYABLE_STATUSES or status == 200:  # 200: a failed item of a batch
            return RetryableUpstreamError(message, retry_after=retry_after_seconds(headers))
        return UpstreamRejected(message)


def build(route: Route, credentials: Credentials, client: UpstreamClient) -> SeedreamImages | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return SeedreamImages(client, route, credentials.api_key, credentials.base_url)


__all__ = ["CREDENTIALS", "SeedreamImages", "build"]
