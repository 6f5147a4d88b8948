"""The interfaces the service is written against; adapters outside `domain` implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .ratelimit import Decision, Limit
from .request import ImageRequest
from .upstream import GeneratedImage


class Provider(Protocol):
    """One upstream wire format, bound to one route's base URL, credentials and model id."""

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """Ask the upstream for `request.n` images at `request.upstream_size` (a provider that can
        draw any size, like the preview, may answer at `request.size` directly).

        Returns the images delivered (possibly fewer than asked). Raises `ContentBlocked` for a
        safety refusal and an `UpstreamProblem` for any other failure; never retries by itself.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class BlobStore(Protocol):
    """Where delivered images live, and how a client is handed a URL to one."""

    async def put(self, image_id: str, ext: str, data: bytes) -> None:
        """Store the bytes under `image_id.ext`; the write is complete when this returns."""
        ...

    def url_for(self, image_id: str, ext: str, expires: int) -> str:
        """A URL that fetches the image without a key until `expires` (unix seconds)."""
        ...


class LimiterState(Protocol):
    """Where rate-limit buckets and in-flight counts live: in process, or Redis shared by nodes.

    Every method raises `StateUnavailable` (and nothing else) when the store cannot answer.
    """

    async def take(self, key: str, limits: Sequence[Limit]) -> Decision:
        """Take each limit's `cost` from `key`'s buckets, all or none, atomically across nodes."""
        ...

    async def enter(self, scope: str, token: str, cap: int, ttl_seconds: float) -> bool:
        """Count `token` in flight for `scope` unless `cap` are already; False when full. An entry
        not left within `ttl_seconds` (its node died) stops counting."""
        ...

    async def leave(self, scope: str, token: str) -> None:
        """Stop counting `token`; leaving twice is harmless."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class Moderator(Protocol):
    """An external moderation check of a prompt (OpenAI's moderations endpoint)."""

    async def flagged_category(self, prompt: str) -> str | None:
        """The category the service flags the prompt for, or None when it passes.

        Raises `ModerationUnavailable` when the service is down, slow or answers nonsense.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ModerationUnavailable(Exception):
    """The moderation service gave no usable verdict; the caller decides open or closed."""


__all__ = ["BlobStore", "LimiterState", "ModerationUnavailable", "Moderator", "Provider"]
