"""`x-request-id` on every response, and a clean 500 for anything unexpected."""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.ids import new_id
from .errors import error_body

log = logging.getLogger("imagegate.http")


class RequestIdMiddleware:
    """Gives each request an id (`scope["state"]["request_id"]`) and puts it on the response.

    Plain ASGI rather than BaseHTTPMiddleware: no extra task or body copy per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:  # the client left while its body was read: no one to answer
            log.info("request %s: the client disconnected before its body was read", request_id)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            if started:
                raise
            body = error_body("The gateway hit an internal error.", "server_error", "internal_error")
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


__all__ = ["RequestIdMiddleware"]
