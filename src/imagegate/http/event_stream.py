"""The `text/event-stream` answer of a streamed request (OpenAI's SSE framing: `event:` and `data:`).

Nothing is sent until the first event, so a request that fails before any event (the upstream
failed, the deadline passed) still gets its ordinary status and error body. After that, a failure
is one `error` event whose data is the contract's error body (the `openai` SDK raises it). A client
that disconnects cancels the run, which bills only what was delivered (`service.streaming`).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..domain.errors import GatewayError
from ..service.streaming import Emit, ImageStream, StreamEvents
from .errors import gateway_error_response

_START_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # proxies (nginx) must not hold events back
]


def frame(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventStreamResponse(Response):
    """`stream` run with the surface's events (`events(emit)`: the Images API's, or another surface's)."""

    def __init__(self, stream: ImageStream, events: Callable[[Emit], StreamEvents]) -> None:
        super().__init__()
        self._stream = stream
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        client_left = False
        extra = [(k.lower().encode(), v.encode()) for k, v in self._stream.headers.items()]

        async def emit(event: str, data: dict[str, object]) -> None:
            nonlocal started
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": [*_START_HEADERS, *extra]})
                started = True
            await send({"type": "http.response.body", "body": frame(event, data), "more_body": True})

        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                nonlocal client_left
                while True:
                    message: Message = await receive()
                    if message["type"] == "http.disconnect":
                        client_left = True
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watch_disconnect)
            try:
                await self._stream.run(self._events(emit))
            except GatewayError as exc:
                if not started:  # nothing sent yet: the ordinary status and error body
                    await gateway_error_response(exc)(scope, receive, send)
                    group.cancel_scope.cancel()
                    return
                await emit("error", exc.body())
            group.cancel_scope.cancel()
        if started and not client_left:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


__all__ = ["EventStreamResponse", "frame"]
