"""A fake OpenAI Images upstream for load tests: raw asyncio + httptools (+ uvloop), never the bottleneck.

    POST [/key=value...]/v1/images/generations   -> {"created", "data": [{"b64_json", "revised_prompt"}] * n, "usage"}
    GET  /healthz                                -> {"ok": true}
    GET  /_stats                                 -> counters: requests, in_flight, max_in_flight, bytes_out
    POST /_stats                                 -> the counters, then zeroes them (in_flight is live and kept)

Each answer is a real PNG of exactly the `size` the request asks for (the gateway checks size and
format), pre-rendered at start and cached with its whole HTTP response, so a request costs a few
microseconds. The PNG is returned whatever `output_format` asks, like an upstream that cannot make
WEBP: a gateway must transcode it.

Behaviour per request, from `key=value` segments in the URL path before `/v1` (so one upstream can
serve several scenarios: `http://127.0.0.1:9100/delay=2000/img=noise/v1`) or in the request's `model`
field (`"model": "fake/delay=2000/img=flat"`, for a gateway whose routes share one base URL):

    delay=<ms>     answer after this long (default 0)
    img=flat|noise flat: a smooth gradient, a few KB at any size; noise: 4 random bits per channel,
                   about as large as a real generated image (1024x1024: 1.79 MB, 2.39 MB as base64)
    fail=<0..1>    fraction of requests answered with an OpenAI-style 500

Loopback only. `--render 256x256:flat,1024x1024:noise` chooses what is rendered before the port opens
(a 4096x4096 noise PNG takes ~10 s); anything else is rendered on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import struct
import sys
import time
import zlib

import httptools

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None

DEFAULT_RENDER = "256x256:flat,1024x1024:flat,1024x1024:noise,4096x4096:noise"
STATUS_TEXT = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found", 500: b"Internal Server Error"}


def render_png(width: int, height: int, kind: str) -> bytes:
    """An 8-bit RGB PNG; `noise` keeps 4 random bits per channel so zlib cannot shrink it much."""
    row = width * 3
    if kind == "noise":
        rng = random.Random(width * 100_003 + height)
        keep_low_nibble = bytes((i & 0x0F) + 0x70 for i in range(256))
        pixels = rng.randbytes(row * height).translate(keep_low_nibble)
        scanlines = b"".join(b"\x00" + pixels[y * row : (y + 1) * row] for y in range(height))
    else:
        line = b"\x00" + bytes((x * 7) & 0xFF for x in range(row))
        scanlines = line * height
    level = 1 if width * height > 4_000_000 else 6

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines, level))
        + chunk(b"IEND", b"")
    )


def http_response(status: int, body: bytes, keep_alive: bool, content_type: bytes = b"application/json") -> bytes:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s\r\n" % (
        status,
        STATUS_TEXT.get(status, b"Unknown"),
        content_type,
        len(body),
        b"" if keep_alive else b"connection: close\r\n",
    )
    return head + body


def options(text: str) -> dict[str, str]:
    """`key=value` segments of a path or a model name."""
    found = {}
    for part in text.split("/"):
        key, sep, value = part.partition("=")
        if sep:
            found[key] = value
    return found


class Images:
    """PNG bytes and whole HTTP responses, keyed by (size, kind, n, keep_alive)."""

    def __init__(self) -> None:
        self.png: dict[tuple[str, str], bytes] = {}
        self.responses: dict[tuple[str, str, int, bool], bytes] = {}
        self.created = int(time.time())

    def png_for(self, size: str, kind: str) -> bytes:
        key = (size, kind)
        if key not in self.png:
            width, _, height = size.partition("x")
            self.png[key] = render_png(int(width), int(height), kind)
        return self.png[key]

    def response(self, size: str, kind: str, n: int, keep_alive: bool) -> bytes:
        key = (size, kind, n, keep_alive)
        cached = self.responses.get(key)
        if cached is None:
            b64 = base64.b64encode(self.png_for(size, kind))
            item = b'{"b64_json":"' + b64 + b'","revised_prompt":"a fake image"}'
            usage = b'{"input_tokens":20,"output_tokens":%d,"total_tokens":%d}' % (272 * n, 20 + 272 * n)
            body = b'{"created":%d,"data":[%s],"usage":%s}' % (self.created, b",".join([item] * n), usage)
            cached = self.responses[key] = http_response(200, body, keep_alive)
        return cached


class Stats:
    def __init__(self) -> None:
        self.in_flight = 0
        self.zero()

    def zero(self) -> None:
        self.requests = 0
        self.failed = 0
        self.bytes_out = 0
        self.max_in_flight = self.in_flight
        self.since = time.monotonic()

    def snapshot(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "bytes_out": self.bytes_out,
            "seconds": round(time.monotonic() - self.since, 3),
        }


ERROR_500 = b'{"error":{"message":"fake upstream failure","type":"server_error","param":null,"code":"fake_failure"}}'
ERROR_401 = (
    b'{"error":{"message":"bad upstream key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}'
)
ERROR_400 = b'{"error":{"message":"the body is not JSON","type":"invalid_request_error","param":null,"code":null}}'


class Connection(asyncio.Protocol):
    """One client connection; answers leave in request order even when their delays differ."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []
        self.pending: list[list] = []  # [response or None, counted as in flight]
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.stats.in_flight -= sum(1 for slot in self.pending if slot[0] is None and slot[1])
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(http_response(400, ERROR_400, keep_alive=False))
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        keep_alive = self.parser.should_keep_alive()
        self.server.handle(self, method, self.url.decode("latin-1"), self.headers, b"".join(self.body), keep_alive)

    def reserve(self, counted: bool) -> list:
        slot = [None, counted]
        self.pending.append(slot)
        return slot

    def answer(self, slot: list, response: bytes, keep_alive: bool = True) -> None:
        if self.closed:
            return
        slot[0] = response
        if slot[1]:
            self.server.stats.in_flight -= 1
        while self.pending and self.pending[0][0] is not None:
            self.transport.write(self.pending.pop(0)[0])
        if not keep_alive and not self.pending:
            self.transport.close()


class Server:
    def __init__(self, api_key: str | None, images: Images) -> None:
        self.auth = f"Bearer {api_key}".encode() if api_key else None
        self.images = images
        self.stats = Stats()
        self.rng = random.Random(7)
        self.loop = asyncio.get_event_loop()

    def handle(self, conn: Connection, method: bytes, url: str, headers: dict, body: bytes, keep_alive: bool) -> None:
        path = url.split("?", 1)[0]
        if method == b"POST" and path.endswith("/images/generations"):
            self.generate(conn, path, headers, body, keep_alive)
            return
        slot = conn.reserve(counted=False)
        if path == "/_stats":
            snapshot = self.stats.snapshot()
            if method == b"POST":
                self.stats.zero()
            conn.answer(slot, http_response(200, json.dumps(snapshot).encode(), keep_alive), keep_alive)
        elif path in ("/healthz", "/health"):
            conn.answer(slot, http_response(200, b'{"ok":true}', keep_alive), keep_alive)
        else:
            conn.answer(slot, http_response(404, b'{"error":{"message":"not found"}}', keep_alive), keep_alive)

    def generate(self, conn: Connection, path: str, headers: dict, body: bytes, keep_alive: bool) -> None:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        slot = conn.reserve(counted=True)
        if self.auth is not None and headers.get(b"authorization") != self.auth:
            stats.failed += 1
            conn.answer(slot, http_response(401, ERROR_401, keep_alive), keep_alive)
            return
        try:
            request = json.loads(body)
            size = str(request.get("size") or "1024x1024")
            n = max(1, min(10, int(request.get("n") or 1)))
            chosen = {**options(path), **options(str(request.get("model") or ""))}
            delay = float(chosen.get("delay", 0)) / 1000
            kind = "noise" if chosen.get("img") == "noise" else "flat"
            fail = float(chosen.get("fail", 0))
            width, sep, height = size.partition("x")
            if not (sep and width.isdigit() and height.isdigit()):
                raise ValueError(size)
        except (ValueError, TypeError, AttributeError):
            stats.failed += 1
            conn.answer(slot, http_response(400, ERROR_400, keep_alive), keep_alive)
            return
        if fail and self.rng.random() < fail:
            stats.failed += 1
            response = http_response(500, ERROR_500, keep_alive)
        else:
            response = self.images.response(size, kind, n, keep_alive)
            stats.bytes_out += len(response)
        if delay > 0:
            self.loop.call_later(delay, conn.answer, slot, response, keep_alive)
        else:
            conn.answer(slot, response, keep_alive)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' (401 otherwise)")
    parser.add_argument("--render", default=DEFAULT_RENDER, help="SIZE:KIND,... rendered before the port opens")
    parser.add_argument("--backlog", type=int, default=16384)
    args = parser.parse_args(argv)

    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    started = time.monotonic()
    images = Images()
    for spec in filter(None, args.render.split(",")):
        size, _, kind = spec.partition(":")
        for keep_alive in (True, False):
            images.response(size, kind or "flat", 1, keep_alive)
    server = Server(args.api_key, images)
    listener = loop.run_until_complete(
        loop.create_server(lambda: Connection(server), "127.0.0.1", args.port, backlog=args.backlog, reuse_address=True)
    )
    sizes = {f"{s}:{k}": len(png) for (s, k), png in images.png.items()}
    print(
        json.dumps(
            {
                "listening": f"http://127.0.0.1:{args.port}",
                "pid": os.getpid(),
                "uvloop": uvloop is not None,
                "png_bytes": sizes,
                "render_s": round(time.monotonic() - started, 1),
            }
        ),
        flush=True,
    )
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()


if __name__ == "__main__":
    sys.exit(main())
