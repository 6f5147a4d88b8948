"""The HTTP/1.1 transport every fake upstream speaks (asyncio + httptools): parses requests, hands
each to its owner in order, writes responses, and can misbehave on purpose (truncate, reset)."""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import socket
import struct
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Protocol

import httptools


class TransportOwner(Protocol):
    """The fake server a connection belongs to."""

    def _on_connection(self, conn: Connection, opened: bool) -> None: ...

    def _note_client_disconnect(self) -> None: ...

    def _record(self, inc: Incoming) -> None: ...

    async def _handle(self, conn: Connection, inc: Incoming) -> bool: ...


@dataclass
class Incoming:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any
    keep_alive: bool
    behaviour: dict[str, Any] | None = None
    received: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), [("content-type", "application/json")] + (headers or []))


class Connection(asyncio.Protocol):
    def __init__(self, fake: TransportOwner) -> None:
        self.fake = fake
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.worker: asyncio.Task | None = None
        self.pending = 0  # requests received but not answered
        self.server_closing = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.fake._on_connection(self, opened=True)
        self.worker = self.loop.create_task(self._work())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        if self.pending and not self.server_closing:
            self.fake._note_client_disconnect()
        self.fake._on_connection(self, opened=False)
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fatal(400, "upgrade not supported")
        except httptools.HttpParserError as e:
            self._fatal(400, f"bad request: {e}")

    def _fatal(self, status: int, message: str) -> None:
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})
        self._write(Response(status, body.encode(), [("content-type", "application/json")]), keep_alive=False)
        self.close()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        for k, v in self._headers:
            if k == "expect" and v.lower() == "100-continue" and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        headers: dict[str, str] = {}
        for k, v in self._headers:
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        body = b"".join(self._body)
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        inc = Incoming(
            method=self.parser.get_method().decode("latin-1"),
            path=url.path.decode("latin-1"),
            query=(url.query or b"").decode("latin-1"),
            headers=headers,
            body=body,
            json=parsed,
            keep_alive=self.parser.should_keep_alive(),
            received=time.monotonic(),
        )
        self.fake._record(inc)  # records + takes the scripted behaviour, before answering
        self.pending += 1
        self.queue.put_nowait(inc)

    # -- worker: answers requests of this connection in order
    async def _work(self) -> None:
        try:
            while True:
                inc = await self.queue.get()
                keep = await self.fake._handle(self, inc)
                self.pending -= 1
                if not keep or not inc.keep_alive:
                    self.close()
                    return
        except asyncio.CancelledError:
            pass

    def close(self, rst: bool = False) -> None:
        self.server_closing = True
        if self.transport is None or self.transport.is_closing():
            return
        if rst:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
        else:
            self.transport.close()

    def _write(self, resp: Response, keep_alive: bool, limit: int | None = None) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(serialize(resp, keep_alive)[:limit] if limit is not None else serialize(resp, keep_alive))


def serialize(resp: Response, keep_alive: bool) -> bytes:
    try:
        reason = http.HTTPStatus(resp.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {resp.status} {reason}"]
    names = {k.lower() for k, _ in resp.headers}
    lines += [f"{k}: {v}" for k, v in resp.headers]
    if "date" not in names:
        lines.append("date: " + formatdate(usegmt=True))
    if "transfer-encoding" not in names:
        lines.append(f"content-length: {len(resp.body)}")
    lines.append("connection: " + ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body


__all__ = ["Connection", "Incoming", "Response", "TransportOwner", "json_response", "serialize"]
