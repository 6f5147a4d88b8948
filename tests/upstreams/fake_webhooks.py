"""A webhook receiver on loopback: records every request it gets and answers as scripted.

Its URL has a path of its own (`/hooks/<random>`): only requests under it take the next scripted
behaviour (default `{"status": 200}`), in arrival order; any other request (a redirect followed, or
a message an earlier test left pending whose old receiver had this port) is recorded and answered
200 without taking one, so that it cannot shift a test's script:

    {"status": 500}                      answer with that status
    {"redirect": "http://…"}             a 307 to that URL (the gateway must not follow it)
    {"status": 200, "body_bytes": N}     a long answer (the gateway reads only a few KiB)
    {"delay": 2.0}                       answer 200 late (a slow receiver, for timeouts)
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.processes import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    at: float  # time.monotonic()


class FakeWebhookReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.path = f"/hooks/{secrets.token_hex(6)}"
        self.url = f"http://127.0.0.1:{self.port}{self.path}"
        self._received: list[Received] = []
        self._script: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        app = Starlette(routes=[Route("/{path:path}", self._hook, methods=["POST", "GET"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        config.timeout_graceful_shutdown = 1
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def script(self, *behaviours: dict[str, Any]) -> None:
        with self._cond:
            self._script.extend(behaviours)

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """At least `count` requests (polled on a condition, bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the receiver got {len(self._received)} request(s), wanted {count}")
                self._cond.wait(left)
            return list(self._received)

    def start(self) -> FakeWebhookReceiver:
        self._thread.start()
        for _ in range(500):  # bounded: up to 10 s
            if self._server.started:
                return self
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.02)
        raise RuntimeError("the fake webhook receiver did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> FakeWebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        ours = request.url.path == self.path or request.url.path.startswith(self.path + "/")
        with self._cond:
            behaviour = self._script.popleft() if self._script and ours else {}
        if "delay" in behaviour:
            await asyncio.sleep(float(behaviour["delay"]))  # a slow receiver, not synchronisation
        if "redirect" in behaviour:
            response = Response(status_code=307, headers={"location": behaviour["redirect"]})
        else:
            response = Response(
                b"x" * int(behaviour.get("body_bytes", 2)), status_code=int(behaviour.get("status", 200))
            )
        with self._cond:
            self._received.append(
                Received(request.url.path, dict(request.headers), body, response.status_code, time.monotonic())
            )
            self._cond.notify_all()
        return response
