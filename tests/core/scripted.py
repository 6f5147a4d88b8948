"""The one stand-in the core tests use: an upstream, implementing the `Provider` port in process.

Each call is answered with the next step of its script: a list of images is returned, an exception
(`UpstreamProblem` subclasses, `ContentBlocked`) is raised. Images are real bytes made by Pillow.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence

from PIL import Image

from imagegate.domain.catalog import Route
from imagegate.domain.credentials import Credentials
from imagegate.domain.ports import Provider
from imagegate.domain.request import ImageRequest
from imagegate.domain.upstream import GeneratedImage
from imagegate.providers.http_client import UpstreamClient
from imagegate.providers.registry import ProviderEntry, default_registry


class HeldAnswer:
    """A step that answers `images` only once the test calls `release()` (a call still in flight)."""

    def __init__(self, images: list[GeneratedImage]) -> None:
        self.images = images
        self.entered = asyncio.Event()
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def answer(self) -> list[GeneratedImage]:
        self.entered.set()
        await self._released.wait()
        return self.images


Step = BaseException | list[GeneratedImage] | HeldAnswer

_PIL_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def picture(size: tuple[int, int] = (64, 64), fmt: str = "png", colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """Real image bytes of `size` in `fmt`."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, _PIL_NAMES[fmt])
    return out.getvalue()


def image(
    size: tuple[int, int] = (64, 64), fmt: str = "png", *, quality: str | None = None, b64: str | None = None
) -> GeneratedImage:
    return GeneratedImage(data=picture(size, fmt), revised_prompt="revised", quality=quality, b64=b64)


class ScriptedUpstream:
    """Implements `domain.ports.Provider`; records every request it was sent."""

    def __init__(self, *steps: Step) -> None:
        self.script: list[Step] = list(steps)
        self.requests: list[ImageRequest] = []
        self.timeouts: list[float] = []
        self.closed = False

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        self.requests.append(request)
        self.timeouts.append(timeout)
        if not self.script:
            raise AssertionError(f"the upstream was called {len(self.requests)} times, more than scripted")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, HeldAnswer):
            return await step.answer()
        return step

    async def aclose(self) -> None:
        self.closed = True


def scripted_registry(upstreams: Mapping[str, Provider]) -> dict[str, ProviderEntry]:
    """The real registry plus a `scripted` wire: a route of it is configured when `upstreams` has
    its name (like a provider whose credentials are set), unconfigured otherwise."""

    def build(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
        return upstreams.get(route.name)

    return {**default_registry(), "scripted": ProviderEntry(build)}


def all_calls(upstreams: Sequence[ScriptedUpstream]) -> list[int]:
    return [u.calls for u in upstreams]


__all__ = ["HeldAnswer", "ScriptedUpstream", "Step", "all_calls", "image", "picture", "scripted_registry"]
