"""Metering what each upstream call made, whatever happens to its images afterwards.

The operator pays an upstream for every image it makes: one the gateway then drops (the wrong size,
undecodable), retries past, withholds (output screening) or never hands out (the client left) costs
the same as one delivered. So the meter sits innermost, right around the wire provider, and notes
each call's images and usage reports (`SpentCall`) as they come back, before anything checks them.

The calls are gathered per routed request: `Router.route` opens a `metering()` scope, a context
variable the meter appends to (asyncio copies the context into the tasks a provider gathers, and
they share the one list), and hands the calls back on `Routed.spent`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..domain.catalog import Route
from ..domain.ports import Provider
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage
from ..domain.upstream_cost import SpentCall
from ..domain.upstream_usage import UpstreamUsage
from .wrapper import ProviderWrapper, UpstreamCall

_SPENT: ContextVar[list[SpentCall] | None] = ContextVar("imagegate_upstream_spend", default=None)


@contextmanager
def metering() -> Iterator[list[SpentCall]]:
    """Collect the upstream calls made inside the block (the list fills as they come back)."""
    calls: list[SpentCall] = []
    token = _SPENT.set(calls)
    try:
        yield calls
    finally:
        _SPENT.reset(token)


class SpendMeter(ProviderWrapper):
    """Notes every call of its route that came back with images (outside a `metering()` scope it
    only passes them on)."""

    def __init__(self, inner: Provider, route: Route) -> None:
        super().__init__(inner)
        self._route = route

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        images = await call()
        calls = _SPENT.get()
        if calls is not None and images:
            calls.append(spent_call(self._route.name, request, images))
        return images


def spent_call(route: str, request: ImageRequest, images: list[GeneratedImage]) -> SpentCall:
    """One call's images as the cost sheet prices them: each distinct report with its image count."""
    reports: dict[UpstreamUsage, int] = {}
    for image in images:
        if image.usage is not None:
            reports[image.usage] = reports.get(image.usage, 0) + 1
    model = request.model
    quality = images[0].quality or request.quality
    if quality == "auto":
        quality = model.auto_quality_price
    if quality is not None and quality not in model.prices and not model.free:
        quality = None
    return SpentCall(
        route=route,
        images=len(images),
        quality=quality,
        size=request.upstream_size,  # `auto`: no figure of that name, so the sheet's "*" or dearest
        reports=tuple(reports.items()),
        unreported=sum(1 for image in images if image.usage is None),
    )


__all__ = ["SpendMeter", "metering", "spent_call"]
