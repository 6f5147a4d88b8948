"""The lifecycle every fake upstream shares: a real HTTP/1.1 server on loopback.

``LoopbackServer`` runs an asyncio server on its own event loop in a daemon thread (``start`` /
``stop`` / context manager), keeps the queue of scripted behaviours, the request log and the
connection counters, and offers the thread-safe waiting helpers. A subclass names its
connection protocol (``PROTOCOL``, called with the server), validates behaviours
(``_validate``), records requests (``_record``) and answers them (``_handle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

DEFAULT_HANG_SECONDS = 60.0


@dataclass(frozen=True)
class RecordedRequest:
    time: float  # time.monotonic() when the full request had arrived
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    json: Any  # parsed JSON body, or None if absent / not JSON
    body: bytes
    query: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "json": self.json,
            "body": self.body.decode("utf-8", "replace"),
        }


class LoopbackServer:
    """Start/stop, scripting queue, request log and waits shared by the fakes."""

    NAME: ClassVar[str] = "fake"  # thread-name prefix
    LABEL: ClassVar[str | None] = None  # how start errors name the server; NAME when None
    PROTOCOL: ClassVar[Callable[[Any], asyncio.Protocol]]  # one per connection, given the server

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[dict[str, Any]] = deque()
        self._requests: list[RecordedRequest] = []
        self._client_disconnects = 0
        self._connections_opened = 0
        self._conns: set[Any] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._released: asyncio.Event | None = None  # `hold` behaviours wait for it; made on the loop

    # -- to override
    def _validate(self, b: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _too_few_requests(self, count: int, timeout: float) -> str:
        return f"{self.NAME} got {len(self._requests)} request(s), wanted {count}"

    # -- lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        label = self.LABEL or self.NAME
        self._started.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.NAME}-{id(self):x}", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError(f"{label} did not start within 10 s")
        if self._start_error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"{label} failed to start: {self._start_error!r}") from self._start_error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._released = asyncio.Event()
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: type(self).PROTOCOL(self), self.host, self.port, reuse_address=True)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
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
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = self._server = None

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection (thread-safe)
    def script(self, *behaviours: dict[str, Any]) -> None:
        """Append behaviours for the next scripted requests, in order."""
        checked = [self._validate(b) for b in behaviours]
        with self._lock:
            for b in checked:
                for _ in range(max(0, int(b.get("times", 1)))):
                    self._queue.append(b)

    def reset(self) -> None:
        """Clear the behaviour queue, the request log and the counters; `hold` waits for a new `release`
        (a request already held keeps waiting)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._client_disconnects = 0
            self._connections_opened = len(self._conns)
        self._on_loop(lambda released: released.clear())

    def release(self) -> None:
        """Let the requests held by `hold` behaviours (and any later ones, until a reset) be answered."""
        self._on_loop(lambda released: released.set())

    def _on_loop(self, change: Callable[[asyncio.Event], None]) -> None:
        loop, released = self._loop, self._released
        if loop is not None and released is not None and not loop.is_closed():
            loop.call_soon_threadsafe(change, released)

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
        """Requests whose connection the client closed before the fake answered (e.g. during 'hang')."""
        with self._lock:
            return self._client_disconnects

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since start / the last reset (still-open ones count after reset)."""
        with self._lock:
            return self._connections_opened

    def wait_for_requests(self, count: int, timeout: float = 10) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(self._too_few_requests(count, timeout))
                self._cond.wait(left)
            return list(self._requests)

    def wait_for_client_disconnects(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._client_disconnects < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._client_disconnects} client disconnect(s), wanted {count}")
                self._cond.wait(left)

    # -- called by the transport, on the loop thread
    async def _transport_behaviour(self, conn: Any, b: dict[str, Any]) -> bool:
        """The transport part of behaviour `b`: ``hang`` (hold the request, then close), ``drop`` without
        ``partial_bytes`` (close at once; ``rst``: with a reset), ``delay`` (wait before answering),
        ``hold`` (wait for `release()`, at most ``seconds``, then answer as ``ok``).
        False when the connection is closed and no answer may be sent."""
        kind = b["kind"]
        if kind == "hold" and self._released is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), float(b.get("seconds", DEFAULT_HANG_SECONDS)))
            return not conn.closed.is_set()
        if kind == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.closed.wait(), float(b.get("seconds", DEFAULT_HANG_SECONDS)))
            conn.close()
            return False
        if kind == "drop" and not b.get("partial_bytes"):
            conn.close(rst=bool(b.get("rst")))
            return False
        if kind == "delay":
            await asyncio.sleep(float(b.get("seconds", 1.0)))
            if conn.closed.is_set():
                return False
        return True

    def _on_connection(self, conn: Any, opened: bool) -> None:
        if opened:
            self._conns.add(conn)
            with self._lock:
                self._connections_opened += 1
        else:
            self._conns.discard(conn)

    def _note_client_disconnect(self) -> None:
        with self._cond:
            self._client_disconnects += 1
            self._cond.notify_all()
