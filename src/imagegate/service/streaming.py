"""A streamed generation or edit (`stream: true`): admitted like any request, then run while the HTTP
layer sends its events in OpenAI's shapes (`image_generation.partial_image` / `.completed`, or
`image_edit.*` for edits).

Billing is the unstreamed request's, counted on delivery: each image is billed once its completed
event has been handed to the server; a client that leaves mid-stream is billed only for the images
whose completed events went out before it left, and the rest of the hold is released. Partial images
cost nothing and are passed through as the upstream streamed them (only streaming upstreams send any).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pybase64

from ..domain.errors import UpstreamFailed
from ..domain.ports import PartialSink
from ..domain.principal import Principal
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, PartialImage
from ..routing.router import Routed
from .admission import Admission, Admitted
from .settlement import Settlement

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Sends one event (name, data) to the client; returns once the server has it."""
StreamCall = Callable[[ImageRequest, Principal, PartialSink], Awaitable[Routed]]

NO_TOKENS = {
    "input_tokens": 0,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "output_tokens": 0,
    "total_tokens": 0,
}
"""OpenAI's `usage` of a completed event; the gateway bills per image, not per token."""


class ImageStream:
    """An admitted streamed request; `run` owns what admission took and gives it all back."""

    def __init__(self, admitted: Admitted, upstream: StreamCall, admission: Admission, settlement: Settlement) -> None:
        self._admitted = admitted
        self._upstream = upstream
        self._admission = admission
        self._settlement = settlement
        self.headers = dict(admitted.rate_headers)
        request = admitted.request
        self._prefix = "image_edit" if request.is_edit else "image_generation"

    async def run(self, emit: Emit) -> None:
        """Call the upstream, send each image's events, settle. A refusal or failure before any event
        is raised (the HTTP layer answers it as usual); a client that leaves cancels this, and what was
        delivered by then is billed."""
        admitted, request = self._admitted, self._admitted.request
        routed: Routed | None = None
        sent: list[GeneratedImage] = []
        created = int(time.time())

        async def on_partial(partial: PartialImage) -> None:
            await emit(f"{self._prefix}.partial_image", self._event(request, created, partial.b64, None, partial.index))

        try:
            routed = await self._upstream(request, admitted.ticket.principal, on_partial)
            if routed.error is not None:
                raise routed.error
            images = routed.images[: request.n]
            if not images:
                raise UpstreamFailed("The upstream delivered no images. Nothing was charged.")
            for image in images:
                b64 = image.b64 if image.b64 is not None else pybase64.b64encode_as_string(image.data)
                await emit(f"{self._prefix}.completed", self._event(request, created, b64, image, None))
                sent.append(image)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if sent:  # the client left after some images were delivered: those are billed
                    await self._complete(routed, sent, created)
                else:
                    await self._settlement.abandon(admitted, routed, exc)
                await self._admission.leave(admitted)
            raise
        with anyio.CancelScope(shield=True):
            await self._complete(routed, sent, created)
            await self._admission.leave(admitted)

    async def _complete(self, routed: Routed | None, sent: list[GeneratedImage], created: int) -> None:
        assert routed is not None
        charge = self._settlement.charge(self._admitted, sent)
        await self._settlement.complete(self._admitted, routed, charge, [], created)

    def _event(
        self, request: ImageRequest, created: int, b64: str, image: GeneratedImage | None, index: int | None
    ) -> dict[str, Any]:
        kind = "partial_image" if index is not None else "completed"
        event: dict[str, Any] = {
            "type": f"{self._prefix}.{kind}",
            "b64_json": b64,
            "created_at": created,
            "size": (image.size if image is not None else None) or request.drawn_size,
            "quality": (image.quality if image is not None else None) or request.quality or "auto",
            "background": request.background,
            "output_format": request.output_format,
        }
        if index is not None:
            event["partial_image_index"] = index
        else:
            event["usage"] = NO_TOKENS
        return event


__all__ = ["Emit", "ImageStream"]
