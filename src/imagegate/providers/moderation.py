"""OpenAI's moderations endpoint (`POST /v1/moderations`) as the gateway's optional moderation stage.

Request `{"model", "input"}`; response `{"id", "model", "results": [{"flagged", "categories",
"category_scores", ...}]}`. Any failure to get that answer within the budget is
`ModerationUnavailable`, translated here, at the adapter's edge.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..domain.ports import ModerationUnavailable
from .http_client import UpstreamClient, UpstreamConnectionError

UNSPECIFIED = "unspecified"


class OpenAIModeration:
    def __init__(
        self, client: UpstreamClient, url: str, api_key: str | None, model: str, budget_seconds: float
    ) -> None:
        self._client = client
        self._url = url
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._budget = budget_seconds

    async def flagged_category(self, prompt: str) -> str | None:
        try:
            async with asyncio.timeout(self._budget):
                response = await self._client.post(
                    self._url,
                    json={"model": self._model, "input": prompt},
                    headers=self._headers,
                    timeout=self._budget,
                )
        except (UpstreamConnectionError, TimeoutError) as exc:
            raise ModerationUnavailable(f"{type(exc).__name__} within {self._budget} s") from exc
        if response.status_code != 200:
            raise ModerationUnavailable(f"status {response.status_code}")
        try:
            return _verdict(response.json())
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModerationUnavailable(f"unexpected response: {exc!r}") from exc

    async def aclose(self) -> None:
        return None  # the shared client belongs to the gateway


def _verdict(body: dict[str, Any]) -> str | None:
    """The highest-scoring flagged category, or None when the prompt is not flagged."""
    result = body["results"][0]
    if not isinstance(result["flagged"], bool):
        raise TypeError("flagged is not a boolean")
    if not result["flagged"]:
        return None
    scores = result.get("category_scores") or {}
    flagged = [name for name, hit in (result.get("categories") or {}).items() if hit is True]
    if not flagged:
        return UNSPECIFIED
    return str(max(flagged, key=lambda name: float(scores.get(name) or 0.0)))


__all__ = ["OpenAIModeration"]
