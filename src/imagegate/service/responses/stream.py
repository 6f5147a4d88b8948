"""The Responses API's stream events of one image, in OpenAI's order and numbered from 0:
`response.created`, `response.in_progress`, `response.output_item.added`,
`response.image_generation_call.in_progress`, `.generating`, `.partial_image` (each partial the
upstream streamed), `.completed`, `response.output_item.done` (the image, billed once it has gone),
then, once settled and kept, `response.completed` with `billing`.

The response opens with the first partial or completed image, so a request refused or failed before
that (and before the first keep-alive comment) gets its ordinary status and error body, as on the
Images API's stream.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...domain.ids import new_id
from ...domain.responses_answer import image_call, response_object
from ...domain.responses_request import ResponsesRequest
from ...domain.upstream import GeneratedImage, PartialImage
from ..images.settlement import GenerationResult
from ..images.streaming import Emit, ImageStream

Keep = Callable[[dict[str, Any]], Awaitable[None]]
"""Keeps a completed Response (for `GET /v1/responses/{id}` and `previous_response_id`)."""
OUTPUT_INDEX = 0


class ResponsesEvents:
    def __init__(self, emit: Emit, stream: ImageStream, wire: ResponsesRequest, keep: Keep | None) -> None:
        self._emit = emit
        self._request = stream.request
        self._wire = wire
        self._keep = keep
        self._id = new_id("resp")
        self._item_id = new_id("ig")
        self._created = int(time.time())
        self._sequence = 0
        self._opened = False
        self._done: dict[str, Any] | None = None

    async def partial(self, partial: PartialImage) -> None:
        await self._open()
        await self._send(
            "response.image_generation_call.partial_image",
            partial_image_index=partial.index,
            partial_image_b64=partial.b64,
            **self._shape(None),
        )

    async def completed(self, image: GeneratedImage, b64: str) -> None:
        await self._open()
        self._done = image_call(self._item_id, "completed", self._shape(image), b64, image.revised_prompt)
        await self._send("response.image_generation_call.completed")
        await self._send("response.output_item.done", item=self._done)

    async def finished(self, result: GenerationResult) -> None:
        assert self._done is not None
        body = self._response([self._done], result.body["billing"])
        if self._keep is not None:
            await self._keep(body)
        await self._send("response.completed", response=body)

    async def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        await self._send("response.created", response=self._response([]))
        await self._send("response.in_progress", response=self._response([]))
        await self._send("response.output_item.added", item=image_call(self._item_id, "in_progress", {}))
        await self._send("response.image_generation_call.in_progress")
        await self._send("response.image_generation_call.generating")

    async def _send(self, kind: str, **fields: Any) -> None:
        data: dict[str, Any] = {"type": kind, "sequence_number": self._sequence}
        if kind.startswith("response.output_item."):
            data["output_index"] = OUTPUT_INDEX
        elif kind.startswith("response.image_generation_call."):
            data.update(output_index=OUTPUT_INDEX, item_id=self._item_id)
        data.update(fields)
        self._sequence += 1
        await self._emit(kind, data)

    def _response(self, output: list[dict[str, Any]], billing: dict[str, Any] | None = None) -> dict[str, Any]:
        return response_object(self._id, self._wire, self._wire.fields["model"], self._created, output, billing)

    def _shape(self, image: GeneratedImage | None) -> dict[str, Any]:
        """What the image is: the size and quality the upstream picked where it was asked to (`auto`)."""
        request = self._request
        size = image.size if image is not None and image.size and request.auto_size else request.size
        reported = image.quality if image is not None else None
        quality = reported if request.quality == "auto" and reported else request.quality
        return {
            "background": request.background,
            "output_format": request.output_format,
            "quality": quality,
            "size": size,
        }


__all__ = ["Keep", "ResponsesEvents"]
