"""Request bodies over the configured size are refused (413) before they are read whole."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import RequestTooLarge


class BodySizeLimitMiddleware:
    """Counts the bytes an app reads and raises `RequestTooLarge` in its `receive` once they pass
    `max_bytes` (at once, if `content-length` already says so). The exception surfaces where the
    route reads the body, so the one error handler renders it; nothing past the limit is read.

    Plain ASGI rather than BaseHTTPMiddleware: no extra task or body copy per request.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        multipart_limits: Mapping[str, int] | None = None,
        any_body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_limits = dict(multipart_limits or {})
        """path -> the limit of a `multipart/form-data` body there (image uploads: an edit, its quote)."""
        self.any_body_limits = dict(any_body_limits or {})
        """path -> the limit of any body there (JSON that may carry images as data URLs: chat)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        limit = self._limit_of(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                raise self._too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._too_large(limit)
            return message

        await self.app(scope, limited_receive, send)

    def _limit_of(self, scope: Scope) -> int:
        path = scope.get("path", "")
        if path in self.any_body_limits:
            return self.any_body_limits[path]
        larger = self.multipart_limits.get(path)
        if larger is None:
            return self.max_bytes
        return larger if _header(scope, b"content-type").lower().startswith(b"multipart/form-data") else self.max_bytes

    def _too_large(self, limit: int) -> RequestTooLarge:
        return RequestTooLarge(f"The request body is larger than this gateway's limit of {limit} bytes.")


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope.get("headers", []) if key == name), b"")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


__all__ = ["BodySizeLimitMiddleware"]
