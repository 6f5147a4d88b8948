"""The `text/event-stream` answer of a streamed request, in its surface's framing: OpenAI's image and
Responses streams name each event (`event:` and `data:`, `NAMED_EVENTS`); Chat Completions sends
`data:` lines alone and ends with `data: [DONE]` (`DATA_ONLY`).

Nothing is sent until the first event, so a request that fails before any event (the upstream
failed, the deadline passed) still gets its ordinary status and error body. After that, a failure
is one `error` event whose data is the contract's error body (the `openai` SDK raises it). A client
that disconnects cancels the run, which bills only what was delivered (`service.images.streaming`).

`keepalive_seconds`: while no event has gone out for that long (the image is being made: 10-20 s),
an SSE comment line is sent, so proxies and clients that close idle connections keep this one.
The first comment starts the answer (status 200), so a failure after it is an `error` event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..domain.errors import GatewayError
from ..service.images.streaming import Emit, ImageStream, StreamEvents
from .errors import gateway_error_response

_START_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies (nginx) must not hold events back
]
KEEPALIVE = b": keep-alive\n\n"
"""An SSE comment: clients ignore it; proxies see traffic."""


def frame(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def data_frame(_event: str, data: object) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


@dataclass(frozen=True, slots=True)
class Framing:
    """How a surface writes its events on the wire."""

    frame: Callable[[str, object], bytes]
    end: bytes = b""
    """Written after the last event of a stream that finished (not after an `error` event)."""


NAMED_EVENTS = Framing(frame)
DATA_ONLY = Framing(data_frame, b"data: [DONE]\n\n")


class EventStreamResponse(Response):
    """`stream` run with the surface's events (`events(emit)`: the Images API's, or another surface's)."""

    def __init__(
        self,
        stream: ImageStream,
        events: Callable[[Emit], StreamEvents],
        *,
        framing: Framing = NAMED_EVENTS,
        keepalive_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._events = events
        self._framing = framing
        self._keepalive = keepalive_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        answered = False  # an error answered as a plain response: nothing more is written
        client_left = False
        last_sent = time.monotonic()
        sending = anyio.Lock()  # an event and a keep-alive comment never interleave
        extra = [(k.lower().encode(), v.encode()) for k, v in self._stream.headers.items()]

        async def write(body: bytes) -> None:
            nonlocal started, last_sent
            async with sending:
                if answered:
                    return
                if not started:
                    await send({"type": "http.response.start", "status": 200, "headers": [*_START_HEADERS, *extra]})
                    started = True
                await send({"type": "http.response.body", "body": body, "more_body": True})
                last_sent = time.monotonic()

        async def emit(event: str, data: dict[str, object]) -> None:
            await write(self._framing.frame(event, data))

        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                nonlocal client_left
                while True:
                    message: Message = await receive()
                    if message["type"] == "http.disconnect":
                        client_left = True
                        group.cancel_scope.cancel()
                        return

            async def keep_alive(interval: float) -> None:
                while True:
                    await anyio.sleep(max(0.0, last_sent + interval - time.monotonic()))
                    if time.monotonic() - last_sent >= interval:
                        await write(KEEPALIVE)

            group.start_soon(watch_disconnect)
            if self._keepalive is not None:
                group.start_soon(keep_alive, self._keepalive)
            try:
                await self._stream.run(self._events(emit))
            except GatewayError as exc:
                async with sending:
                    answered = not started
                if answered:  # nothing sent yet: the ordinary status and error body
                    await gateway_error_response(exc)(scope, receive, send)
                    group.cancel_scope.cancel()
                    return
                await emit("error", exc.body())
            else:
                if self._framing.end:
                    await write(self._framing.end)
            group.cancel_scope.cancel()
        if started and not client_left:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


__all__ = ["DATA_ONLY", "KEEPALIVE", "NAMED_EVENTS", "EventStreamResponse", "Framing", "data_frame", "frame"]
