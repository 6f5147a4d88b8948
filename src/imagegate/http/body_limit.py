"""Request bodies over the configured size are refused (413) before they are read whole."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import RequestTooLarge


class BodySizeLimitMiddleware:
    """Counts the bytes an app reads and raises `RequestTooLarge` in its `receive` once they pass
    `max_bytes` (at once, if `content-length` already says so). The exception surfaces where the
    route reads the body, so the one error handler renders it; nothing past the limit is read.

    Plain ASGI rather than BaseHTTPMiddleware: no extra task or body copy per request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise self._too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self) -> RequestTooLarge:
        return RequestTooLarge(f"The request body is larger than this gateway's limit of {self.max_bytes} bytes.")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


__all__ = ["BodySizeLimitMiddleware"]
