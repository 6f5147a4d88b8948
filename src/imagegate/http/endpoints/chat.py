"""The Chat Completions surface: `POST /v1/chat/completions` for the catalog's image models, in
OpenAI's chat shape with OpenRouter's conventions for images (`domain.chat_request`).

The body is read into an operation (a generation, or an edit of the images it carries) and run
through `http.operations.run_operation` like any Images API request: the same price, hold, rate
limits, screening, idempotency and usage record (surface `chat`). The answer is one assistant
message whose `images` hold the images (a data URL each, or with `response_format: "url"` the
gateway's signed URL), `billing` says what they cost; `stream: true` sends `chat.completion.chunk`s
(the role, each image, `finish_reason: "stop"`, the usage when asked, `data: [DONE]`) with SSE
comments while the image is made. There are no async jobs on this surface: `Prefer: respond-async`
is answered at once.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ...domain.chat_request import ChatRequest, parse_chat_request
from ...domain.json_body import parse_json_object
from ...domain.upstream import GeneratedImage, PartialImage
from ...service.images.operations import Operation
from ...service.images.settlement import GenerationResult
from ...service.images.streaming import Emit, ImageStream
from ...service.jobs.jobs import JobAccepted
from ..event_stream import DATA_ONLY, EventStreamResponse
from ..gateway import gateway
from ..operations import run_operation

router = APIRouter()

PATH = "/v1/chat/completions"
NO_TOKENS = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
"""Chat's `usage`: no text model runs and images are billed per image (`billing`), not per token."""
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def data_url(output_format: str, b64: str) -> str:
    return f"data:{_MEDIA_TYPES.get(output_format, 'image/png')};base64,{b64}"


def render_with_images(answer: dict[str, Any], slots: dict[str, tuple[str, str]]) -> bytes:
    """`answer` as JSON, each slot string in it replaced by its data URL (prefix, base64) spliced in
    as bytes: the base64 is copied once instead of being joined into a string and then serialized
    again (a 1024² image: 0.2 ms against 0.6 ms). Each slot holds a NUL and a random nonce, so no
    text of the answer can be taken for one."""
    rendered = orjson.dumps(answer)
    pieces: list[bytes] = []
    for slot, (prefix, b64) in slots.items():
        before, _, rendered = rendered.partition(orjson.dumps(slot)[1:-1])
        pieces += [before, prefix.encode(), b64.encode()]
    pieces.append(rendered)
    return b"".join(pieces)


def image_part(url: str, index: int) -> dict[str, Any]:
    """One entry of `message.images` / `delta.images` (OpenRouter's shape; `index` as LiteLLM reads it)."""
    return {"type": "image_url", "image_url": {"url": url}, "index": index}


class ChatCompletion:
    """One chat request: reads its body into an operation, then answers in chat's shapes."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.id = "chatcmpl-" + request.state.request_id.removeprefix("req_")
        self._chat: ChatRequest | None = None

    @property
    def chat(self) -> ChatRequest:
        assert self._chat is not None, "read before answering"
        return self._chat

    async def read(self) -> Operation:
        found = gateway(self._request)
        self._chat = parse_chat_request(parse_json_object(await self._request.body()), found.catalog.models)
        return await found.image_inputs.operation(self._chat.fields, self._chat.images)

    def result(self, result: GenerationResult) -> Response:
        body = result.body
        media_type = _MEDIA_TYPES.get(body.get("output_format", "png"), "image/png")
        data = body["data"]
        nonce = os.urandom(8).hex()
        slots = {
            f"\x00{nonce}:{index}\x00": (f"data:{media_type};base64,", item["b64_json"])
            for index, item in enumerate(data)
            if "b64_json" in item
        }
        urls = iter(slots)
        images = [image_part(item["url"] if "url" in item else next(urls), index) for index, item in enumerate(data)]
        answer = {
            "id": self.id,
            "object": "chat.completion",
            "created": body["created"],
            "model": self.chat.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": data[0].get("revised_prompt"), "images": images},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": NO_TOKENS,
            "billing": body["billing"],
        }
        headers = {**result.headers, "x-imagegate-cost-micros": str(result.cost_micros)}
        if result.replayed:
            headers["idempotent-replayed"] = "true"
        if result.images_missing:
            headers["x-imagegate-images-missing"] = str(result.images_missing)
        return Response(render_with_images(answer, slots), headers=headers, media_type="application/json")

    def accepted(self, accepted: JobAccepted) -> Response:
        raise AssertionError("the chat surface runs no async jobs (run_operation is called with async_jobs=False)")

    def stream(self, stream: ImageStream) -> EventStreamResponse:
        keepalive = gateway(self._request).stream_keepalive_seconds
        return EventStreamResponse(
            stream, lambda emit: ChatEvents(emit, stream, self), framing=DATA_ONLY, keepalive_seconds=keepalive
        )


class ChatEvents:
    """A chat stream's chunks: the role, then one chunk per image (`delta.images`, with the revised
    prompt as `delta.content`), then `finish_reason: "stop"` and, when asked, the usage and billing."""

    def __init__(self, emit: Emit, stream: ImageStream, completion: ChatCompletion) -> None:
        self._emit = emit
        self._format = stream.request.output_format
        self._completion = completion
        self._created = int(time.time())
        self._sent = 0

    async def partial(self, partial: PartialImage) -> None:
        """None arrive: a chat request may not ask for partial images."""

    async def completed(self, image: GeneratedImage, b64: str) -> None:
        if self._sent == 0:
            await self._chunk({"role": "assistant", "content": ""})
        delta: dict[str, Any] = {"images": [image_part(data_url(self._format, b64), self._sent)]}
        if self._sent == 0 and image.revised_prompt:
            delta["content"] = image.revised_prompt
        await self._chunk(delta)
        self._sent += 1

    async def finished(self, result: GenerationResult) -> None:
        await self._chunk({}, "stop")
        if self._completion.chat.include_usage:
            usage = {"choices": [], "usage": NO_TOKENS, "billing": result.body["billing"]}
            await self._emit("chunk", {**self._head(), **usage})

    async def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        await self._emit("chunk", {**self._head(), "choices": [choice]})

    def _head(self) -> dict[str, Any]:
        completion = self._completion
        return {
            "id": completion.id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": completion.chat.model,
        }


async def create_chat_completion(request: Request) -> Any:
    completion = ChatCompletion(request)
    return await run_operation(request, completion.read, "chat", completion, async_jobs=False)


router.add_route(PATH, create_chat_completion, methods=["POST"], include_in_schema=False)


__all__ = ["PATH", "ChatCompletion", "ChatEvents", "router"]
