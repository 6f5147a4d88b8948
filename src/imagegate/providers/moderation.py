"""OpenAI's moderations endpoint (`POST /v1/moderations`): the gateway's optional moderation stage
of prompts, and the `moderation` mode of output screening, which sends each delivered image.

Request `{"model", "input"}`, where `input` is the prompt's text or, for an image,
`[{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}}]`; response
`{"id", "model", "results": [{"flagged", "categories", "category_scores", ...}]}`. Any failure to
get that answer within the budget is `ModerationUnavailable`, translated here, at the adapter's edge.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import anyio.to_thread
import pybase64
from PIL import Image

from ..domain.ports import ModerationUnavailable
from ..domain.upstream import ScreeningImage
from .http_client import UpstreamClient, UpstreamConnectionError

UNSPECIFIED = "unspecified"
IMAGE_SIDE = 1024
"""The longest side of the image sent (a delivered image is reduced to it): ~100-300 KB as JPEG."""
_JPEG_QUALITY = 90


class _Endpoint:
    """One moderations call within the latency budget, or `ModerationUnavailable`."""

    def __init__(
        self, client: UpstreamClient, url: str, api_key: str | None, model: str, budget_seconds: float
    ) -> None:
        self._client = client
        self._url = url
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._budget = budget_seconds

    async def result(self, moderation_input: Any) -> dict[str, Any]:
        """The first result of the answer (`flagged`, `categories`, `category_scores`, ...)."""
        try:
            async with asyncio.timeout(self._budget):
                response = await self._client.post(
                    self._url,
                    json={"model": self._model, "input": moderation_input},
                    headers=self._headers,
                    timeout=self._budget,
                )
        except (UpstreamConnectionError, TimeoutError) as exc:
            raise ModerationUnavailable(f"{type(exc).__name__} within {self._budget} s") from exc
        if response.status_code != 200:
            raise ModerationUnavailable(f"status {response.status_code}")
        try:
            result = response.json()["results"][0]
            if not isinstance(result["flagged"], bool):
                raise TypeError("flagged is not a boolean")
            return dict(result)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModerationUnavailable(f"unexpected response: {exc!r}") from exc

    async def aclose(self) -> None:
        return None  # the shared client belongs to the gateway


class OpenAIModeration(_Endpoint):
    """The prompt's moderation stage (`domain.ports.Moderator`)."""

    async def flagged_category(self, prompt: str) -> str | None:
        result = await self.result(prompt)
        try:
            return _verdict(result)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ModerationUnavailable(f"unexpected response: {exc!r}") from exc


class OpenAIImageModeration(_Endpoint):
    """Output screening's `moderation` mode (`domain.ports.ImageClassifier`): the category scores of
    each image, which the safety policy's `moderation` thresholds judge."""

    kind = "moderation"
    view_side = IMAGE_SIDE

    async def scores(self, image: ScreeningImage) -> dict[str, float]:
        data_url = "data:image/jpeg;base64," + pybase64.b64encode_as_string(
            await anyio.to_thread.run_sync(_jpeg, image)
        )
        result = await self.result([{"type": "image_url", "image_url": {"url": data_url}}])
        try:
            return {str(name): float(score) for name, score in dict(result["category_scores"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModerationUnavailable(f"unexpected category_scores: {exc!r}") from exc


def _jpeg(image: ScreeningImage) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (image.width, image.height), image.rgb).save(out, "JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def _verdict(result: dict[str, Any]) -> str | None:
    """The highest-scoring flagged category, or None when the prompt is not flagged."""
    if not result["flagged"]:
        return None
    scores = result.get("category_scores") or {}
    flagged = [name for name, hit in (result.get("categories") or {}).items() if hit is True]
    if not flagged:
        return UNSPECIFIED
    return str(max(flagged, key=lambda name: float(scores.get(name) or 0.0)))


__all__ = ["OpenAIImageModeration", "OpenAIModeration"]
