"""A base for fake upstreams: a real HTTP/1.1 server on loopback with scripted behaviours.

It reuses the raw asyncio + httptools transport of ``fake_openai`` (so a fake can hang, drop a
connection or send half a body) and adds what every fake shares: a queue of scripted behaviours
taken one per request in order of arrival, a request log, and waiting helpers. A subclass names
its ``BEHAVIOURS``, says which requests take a behaviour (``takes_behaviour``) and answers them
(``answer``). Transport kinds are handled here for every fake:

``hang`` (``seconds``: hold the request, then close without answering), ``drop`` (close the
connection at once; ``rst``: with a reset), ``delay`` (``seconds``: answer late), ``status``
(``status``, ``body``: any status with a JSON or raw body).

Every kind also takes ``times`` (how many consecutive requests it applies to) and ``headers``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
import uuid
from collections import deque
from typing import Any, ClassVar

from PIL import Image

from tests.upstreams.fake_openai import RecordedRequest, _Conn, _Incoming, _json_response, _Response

TRANSPORT_BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "ok": (),
    "hang": ("seconds",),
    "drop": ("rst",),
    "delay": ("seconds",),
    "status": ("status", "body"),
}
COMMON_OPTIONS = ("kind", "headers", "times")
DEFAULT_HANG_SECONDS = 60.0

_image_cache: dict[tuple[int, int, str, int], bytes] = {}
_image_lock = threading.Lock()


def solid_image(width: int, height: int, fmt: str, index: int = 0) -> bytes:
    """A cheap solid-colour image (colour by `index`), encoded fast; cached."""
    key = (width, height, fmt, index)
    with _image_lock:
        hit = _image_cache.get(key)
    if hit is not None:
        return hit
    colour = ((40 + index * 67) % 256, (90 + index * 31) % 256, (200 - index * 53) % 256)
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), colour)
    if fmt == "png":
        image.save(out, "PNG", compress_level=1)
    elif fmt == "jpeg":
        image.save(out, "JPEG", quality=85)
    else:
        image.save(out, "WEBP", quality=80, method=0)
    data = out.getvalue()
    with _image_lock:
        _image_cache[key] = data
    return data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def truncated(data: bytes) -> bytes:
    return data[: max(16, len(data) // 2)]


class FakeUpstream:
    """Lifecycle, scripting and recording shared by the fake upstreams."""

    BEHAVIOURS: ClassVar[dict[str, tuple[str, ...]]] = TRANSPORT_BEHAVIOURS
    NAME: ClassVar[str] = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[dict[str, Any]] = deque()
        self._requests: list[RecordedRequest] = []
        self._client_disconnects = 0
        self._conns: set[_Conn] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    # -- to override
    def takes_behaviour(self, inc: _Incoming) -> bool:
        """Whether this request is one the script applies to (the generation endpoint)."""
        raise NotImplementedError

    async def answer(self, inc: _Incoming, behaviour: dict[str, Any], request_id: str) -> _Response:
        raise NotImplementedError

    # -- lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name=f"{self.NAME}-{id(self):x}", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError(f"{self.NAME} did not start within 10 s")
        if self._start_error is not None:
            raise RuntimeError(f"{self.NAME} failed to start: {self._start_error!r}") from self._start_error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _Conn(self), self.host, self.port, reuse_address=True)  # type: ignore[arg-type]
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._start_error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.server_closing = True
            if conn.transport is not None:
                conn.transport.abort()
            if conn.worker is not None:
                conn.worker.cancel()
        await asyncio.sleep(0)

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(5)
        except Exception:  # noqa: BLE001 - best effort
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = self._server = None

    def __enter__(self) -> FakeUpstream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection (thread-safe)
    def script(self, *behaviours: dict[str, Any]) -> None:
        """Append behaviours for the next generation requests, in order."""
        checked = [self._validate(b) for b in behaviours]
        with self._lock:
            for b in checked:
                for _ in range(max(0, int(b.get("times", 1)))):
                    self._queue.append(b)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._client_disconnects = 0

    @property
    def pending_behaviours(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def client_disconnects(self) -> int:
        with self._lock:
            return self._client_disconnects

    def wait_for_requests(self, count: int, timeout: float = 10) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.NAME} got {len(self._requests)} request(s), wanted {count}")
                self._cond.wait(left)
            return list(self._requests)

    def _validate(self, b: Any) -> dict[str, Any]:
        if not isinstance(b, dict) or not isinstance(b.get("kind"), str):
            raise ValueError(f"behaviour must be a dict with a 'kind': {b!r}")
        known = {**TRANSPORT_BEHAVIOURS, **self.BEHAVIOURS}
        if b["kind"] not in known:
            raise ValueError(f"unknown behaviour kind {b['kind']!r}; known: {sorted(known)}")
        unknown = set(b) - set(known[b["kind"]]) - set(COMMON_OPTIONS)
        if unknown:
            raise ValueError(f"unknown options for {b['kind']!r}: {sorted(unknown)}")
        return dict(b)

    # -- called by the transport, on the loop thread
    def _on_connection(self, conn: _Conn, opened: bool) -> None:
        if opened:
            self._conns.add(conn)
        else:
            self._conns.discard(conn)

    def _note_client_disconnect(self) -> None:
        with self._cond:
            self._client_disconnects += 1
            self._cond.notify_all()

    def _record(self, inc: _Incoming) -> None:
        rec = RecordedRequest(inc.received, inc.method, inc.path, dict(inc.headers), inc.json, inc.body, inc.query)
        with self._cond:
            self._requests.append(rec)
            if self.takes_behaviour(inc):
                inc.behaviour = self._queue.popleft() if self._queue else {"kind": "ok"}
            self._cond.notify_all()

    async def _handle(self, conn: _Conn, inc: _Incoming) -> bool:
        """Answer one request; False when the connection must be closed."""
        request_id = uuid.uuid4().hex
        b = inc.behaviour or {"kind": "ok"}
        kind = b["kind"]
        if kind == "hang":
            try:
                await asyncio.wait_for(conn.closed.wait(), float(b.get("seconds", DEFAULT_HANG_SECONDS)))
            except asyncio.TimeoutError:
                pass
            conn.close()
            return False
        if kind == "drop":
            conn.close(rst=bool(b.get("rst")))
            return False
        if kind == "delay":
            await asyncio.sleep(float(b.get("seconds", 1.0)))
            if conn.closed.is_set():
                return False
        if kind == "status":
            resp = _scripted_status(b)
        else:
            resp = await self.answer(inc, b, request_id)
        resp.headers += [(str(k).lower(), str(v)) for k, v in (b.get("headers") or {}).items()]
        conn._write(resp, inc.keep_alive)
        return True


def _scripted_status(b: dict[str, Any]) -> _Response:
    body = b.get("body")
    if isinstance(body, (bytes, str)):
        raw = body.encode() if isinstance(body, str) else body
        return _Response(int(b["status"]), raw, [("content-type", "application/json")])
    return _json_response(int(b["status"]), body if body is not None else {"error": {"message": "scripted"}})


json_response = _json_response
Response = _Response
Incoming = _Incoming

__all__ = [
    "FakeUpstream", "Incoming", "RecordedRequest", "Response", "b64", "json_response", "solid_image", "truncated",
]
