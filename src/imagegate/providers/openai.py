"""The OpenAI Images API wire format (OpenAI, and any server that speaks it)."""

from __future__ import annotations

from typing import Any

import httpx

from ..domain.catalog import Route
from ..domain.errors import ContentBlocked
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, RetryableUpstreamError, UpstreamRejected
from .base import decode_b64, error_object, json_body, map_transport_errors, retry_after_seconds

SAFETY_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_filter", "contentFilter"})
RETRYABLE_STATUSES = frozenset({408, 409, 429})


class OpenAIImages:
    """`POST {base_url}/images/generations` with a Bearer key.

    GPT image models refuse `style` and `response_format`: neither is ever sent. The gateway's
    style is already in `request.upstream_prompt`, and GPT models always answer base64.
    """

    def __init__(self, client: httpx.AsyncClient, route: Route, api_key: str, base_url: str) -> None:
        self._client = client
        self._route = route
        self._url = base_url.rstrip("/") + "/images/generations"
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def payload(self, request: ImageRequest) -> dict[str, Any]:
        upscaling = request.upstream_size != request.size
        # When the gateway upscales it re-encodes anyway: ask for lossless PNG then.
        output_format = "png" if upscaling else request.output_format
        body: dict[str, Any] = {
            "model": self._route.upstream_model,
            "prompt": request.upstream_prompt,
            "n": request.n,
            "size": request.upstream_size,
            "output_format": output_format,
        }
        if request.quality is not None:
            body["quality"] = request.quality
        if output_format != "png" and request.output_compression is not None:
            body["output_compression"] = request.output_compression
        if request.user is not None:
            body["user"] = request.user
        return body

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        with map_transport_errors(self._route.name):
            response = await self._client.post(
                self._url, json=self.payload(request), headers=self._headers, timeout=timeout
            )
        if response.status_code != 200:
            raise self._failure(response)
        body = json_body(response, self._route.name)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise RetryableUpstreamError(f"route {self._route.name}: upstream answered 200 with no images")
        quality = body.get("quality") if isinstance(body.get("quality"), str) else None
        sent_prompt = request.upstream_prompt
        return [
            GeneratedImage(
                data=decode_b64(item.get("b64_json") if isinstance(item, dict) else None, self._route.name),
                revised_prompt=(item.get("revised_prompt") or sent_prompt) if isinstance(item, dict) else sent_prompt,
                quality=quality,
            )
            for item in items
        ]

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by the app."""

    def _failure(self, response: httpx.Response) -> Exception:
        status = response.status_code
        try:
            error = error_object(response.json())
        except ValueError:
            error = {}
        code = str(error.get("code") or "")
        inner = error.get("inner_error")
        inner_code = str(inner.get("code") or "") if isinstance(inner, dict) else ""
        message = str(error.get("message") or response.reason_phrase)
        where = f"route {self._route.name}: upstream {status}"
        if code in SAFETY_CODES or inner_code == "ResponsibleAIPolicyViolation":
            details = error.get("moderation_details")
            stage = details.get("moderation_stage") if isinstance(details, dict) else None
            if stage == "output":
                return ContentBlocked("The generated image was blocked by the upstream's safety system.", code="output_blocked")
            return ContentBlocked("The prompt was blocked by the upstream's safety system.")
        if status >= 500 or (status in RETRYABLE_STATUSES and code != "insufficient_quota"):
            return RetryableUpstreamError(f"{where} {code or ''}: {message}".strip(), retry_after=retry_after_seconds(response.headers))
        return UpstreamRejected(f"{where} {code}: {message}")


__all__ = ["OpenAIImages"]
