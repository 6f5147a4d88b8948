"""One access line per request: request id, key id (never the key), model, status, images, cost, latency.

A plain ASGI middleware inside `RequestIdMiddleware` (so the request id is known) and outside
everything else (so a 413 or an unhandled error is logged too). Lines go to the `imagegate.access`
logger at INFO: `IMAGEGATE_LOG_LEVEL=warning` silences them, `IMAGEGATE_ACCESS_LOG=false` removes the
middleware, and `IMAGEGATE_LOG_FORMAT=json` prints each line as one JSON object. A line only builds
its fields and queues its record here; the log's own thread formats and writes it
(`observability/logs.py`), so it costs the event loop a few microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observability.logs import queued_stderr
from ..service.images.summary import RequestSummary

log = logging.getLogger("imagegate.access")

CLIENT_CLOSED = 499
"""The status logged for a request whose client left before any answer (as usage and metrics say)."""


class _JsonLines(logging.Formatter):
    """The record's fields (`access`) as one JSON object, with the time and level first."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "access", {})
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return orjson.dumps(
            {"time": stamp, "level": record.levelname.lower(), "logger": record.name, **fields}
        ).decode()


def configure_access_log(json_lines: bool) -> None:
    """JSON: a handler of its own on stderr. Text: the `imagegate` logger's handler and format."""
    for handler in [h for h in log.handlers if getattr(h, "imagegate_access", False)]:
        log.removeHandler(handler)
    log.propagate = not json_lines
    if json_lines:
        handler = queued_stderr(_JsonLines())  # written by the log's own thread, like every gateway line
        handler.imagegate_access = True  # type: ignore[attr-defined]
        log.addHandler(handler)


def text_line(fields: dict[str, Any]) -> str:
    """`req_… POST /v1/images/generations 200 key=key_… model=gpt-image-2 images=1 cost_micros=0 12 ms`"""
    parts = [fields["request_id"], fields["method"], fields["path"], str(fields["status"])]
    for name in ("key_id", "model", "images", "cost_micros"):
        if fields.get(name) is not None:
            parts.append(f"{'key' if name == 'key_id' else name}={fields[name]}")
    parts.append(f"{fields['latency_ms']} ms")
    return " ".join(parts)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, json_lines: bool = False) -> None:
        self.app = app
        self.json_lines = json_lines
        configure_access_log(json_lines)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        summary = state["summary"] = RequestSummary()
        status: int | None = None
        failed = False

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except (ClientDisconnect, asyncio.CancelledError):  # the client left: no answer, and no error of ours
            raise
        except Exception:  # answered 500 by RequestIdMiddleware, outside this one
            failed = True
            raise
        finally:
            if status is None:  # nothing was sent: an error of ours, or a client that left before its answer
                status = 500 if failed else CLIENT_CLOSED
            self._emit(scope, state, summary, status, started)

    def _emit(self, scope: Scope, state: dict[str, Any], summary: RequestSummary, status: int, started: float) -> None:
        fields: dict[str, Any] = {
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "key_id": state.get("key_id"),
        }
        if summary.model is not None:
            fields.update(model=summary.model, images=summary.images, cost_micros=summary.cost_micros)
        fields["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        # the record made directly: `log.info` would also walk the stack for a caller no line shows
        if self.json_lines:
            record = log.makeRecord(log.name, logging.INFO, __file__, 0, "access", (), None, extra={"access": fields})
        else:
            record = log.makeRecord(log.name, logging.INFO, __file__, 0, text_line(fields), (), None)
        log.handle(record)


__all__ = ["AccessLogMiddleware", "configure_access_log", "text_line"]
