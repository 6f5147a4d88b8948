"""A streamed request (`stream: true`): admitted like any request, then run while its surface sends
each image to the client as an event (the Images API's `image_generation.partial_image` /
`.completed`, or `image_edit.*` for edits: `ImagesApiEvents`; another surface passes its own
`StreamEvents`).

Billing is the unstreamed request's, counted on delivery: each image is billed once its completed
event has been handed to the server; a client that leaves mid-stream is billed only for the images
whose completed events went out before it left, and the rest of the hold is released. Partial images
cost nothing and are passed through as the upstream streamed them (only streaming upstreams send any),
except under output screening: a partial of an image not yet screened could show what the screen
would withhold, so none is sent, and each completed image goes out once it has passed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio
import pybase64

from ...domain.errors import UpstreamFailed
from ...domain.ports import PartialSink
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from ...domain.upstream import GeneratedImage, PartialImage
from ...routing.router import Routed
from .admission import Admission, Admitted
from .operations import Operation
from .output_screening import OutputScreen
from .settlement import GenerationResult, Settlement
from .summary import RequestSummary

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


class StreamEvents(Protocol):
    """How a surface tells its client of a streamed request's images, in its own event shapes."""

    async def partial(self, partial: PartialImage) -> None:
        """A partial image the upstream streamed (free)."""
        ...

    async def completed(self, image: GeneratedImage, b64: str) -> None:
        """A finished image (`b64`: its bytes in base64); returns once the server has the event,
        and the image is billed from then on."""
        ...

    async def finished(self, result: GenerationResult) -> None:
        """Every image was sent and the stream is settled: `result.body["billing"]` is what it cost
        (a surface that ends its stream with a summary sends it here; the Images API sends none)."""
        ...


class ImageStream:
    """An admitted streamed request; `run` owns what admission took and gives it all back."""

    def __init__(
        self,
        admitted: Admitted,
        operation: Operation,
        upstream: StreamCall,
        admission: Admission,
        settlement: Settlement,
        summary: RequestSummary | None = None,
        *,
        output_screen: OutputScreen | None = None,
    ) -> None:
        self._admitted = admitted
        self._output_screen = output_screen
        self.operation = operation
        self._upstream = upstream
        self._admission = admission
        self._settlement = settlement
        self._summary = summary
        self.headers = dict(admitted.rate_headers)

    @property
    def request(self) -> ImageRequest:
        return self._admitted.request

    async def run(self, events: StreamEvents) -> None:
        """Call the upstream, send each image's events, settle. A refusal or failure before any event
        is raised (the HTTP layer answers it as usual); a client that leaves cancels this, and what was
        delivered by then is billed."""
        admitted, request = self._admitted, self._admitted.request
        routed: Routed | None = None
        sent: list[GeneratedImage] = []
        made = 0
        created = int(time.time())
        principal = admitted.ticket.principal
        screen = self._output_screen
        try:
            routed = await self._upstream(request, principal, events.partial if screen is None else _held_back)
            if routed.error is not None:
                raise routed.error
            images = routed.images[: request.n]
            if not images:
                raise UpstreamFailed("The upstream delivered no images. Nothing was charged.")
            made = len(images)
            if screen is not None:
                images = await screen.screen(images, request, principal, admitted.ticket.request_id)
            for image in images:
                b64 = image.b64 if image.b64 is not None else pybase64.b64encode_as_string(image.data)
                await events.completed(image, b64)
                sent.append(image)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if sent:  # the client left after some images were delivered: those are billed
                    await self._complete(routed, sent, created, made)
                else:
                    await self._settlement.abandon(admitted, routed, exc, lost=made)
                await self._admission.leave(admitted)
            raise
        with anyio.CancelScope(shield=True):
            result = await self._complete(routed, sent, created, made)
            await self._admission.leave(admitted)
        await events.finished(result)

    async def _complete(
        self, routed: Routed | None, sent: list[GeneratedImage], created: int, made: int
    ) -> GenerationResult:
        assert routed is not None
        charge = self._settlement.charge(self._admitted, sent)
        result = await self._settlement.complete(self._admitted, routed, charge, [], created, lost=made - len(sent))
        if self._summary is not None:
            self._summary.images, self._summary.cost_micros = charge.images, charge.amount
        return result


async def _held_back(partial: PartialImage) -> None:
    """Where partial images go under output screening: nowhere (see the module's docstring)."""


class ImagesApiEvents:
    """The Images API's stream events (OpenAI's `ImageGenStreamEvent` / `ImageEditStreamEvent`)."""

    def __init__(self, emit: Emit, stream: ImageStream) -> None:
        self._emit = emit
        self._request = stream.request
        self._prefix = stream.operation.event_prefix
        self._created = int(time.time())

    async def partial(self, partial: PartialImage) -> None:
        event = self._event("partial_image", partial.b64, None)
        event["partial_image_index"] = partial.index
        await self._emit(event["type"], event)

    async def completed(self, image: GeneratedImage, b64: str) -> None:
        event = self._event("completed", b64, image)
        event["usage"] = NO_TOKENS
        await self._emit(event["type"], event)

    async def finished(self, result: GenerationResult) -> None:
        """OpenAI's image stream ends with the last completed event."""

    def _event(self, kind: str, b64: str, image: GeneratedImage | None) -> dict[str, Any]:
        request = self._request
        return {
            "type": f"{self._prefix}.{kind}",
            "b64_json": b64,
            "created_at": self._created,
            "size": (image.size if image is not None else None) or request.drawn_size,
            "quality": (image.quality if image is not None else None) or request.quality or "auto",
            "background": request.background,
            "output_format": request.output_format,
        }


__all__ = ["Emit", "ImageStream", "ImagesApiEvents", "StreamEvents"]
