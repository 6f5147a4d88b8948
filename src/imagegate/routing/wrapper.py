"""The base of every provider wrapper: forwards each operation of the `Provider` port to the inner
provider through one hook, `around`, so a wrapper overrides the hook and nothing else.

A new operation on the port (an edit, a stream) is written once here, as a call through `around`,
and every wrapper (breaker, conformance, whatever comes next) applies to it without an edit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..domain.ports import PartialSink, Provider
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage

UpstreamCall = Callable[[], Awaitable[list[GeneratedImage]]]


class ProviderWrapper:
    def __init__(self, inner: Provider) -> None:
        self.inner = inner

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        return await self.around(lambda: self.inner.generate(request, timeout=timeout), request, timeout)

    async def edit(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        return await self.around(lambda: self.inner.edit(request, timeout=timeout), request, timeout)

    async def stream(self, request: ImageRequest, *, timeout: float, partial: PartialSink) -> list[GeneratedImage]:
        return await self.around(lambda: self.inner.stream(request, timeout=timeout, partial=partial), request, timeout)

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        """Run one upstream operation; the default adds nothing."""
        return await call()

    async def aclose(self) -> None:
        await self.inner.aclose()


__all__ = ["ProviderWrapper", "UpstreamCall"]
