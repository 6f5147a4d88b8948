"""Slow and idle client connections: deadlines for reading a request, and a cap per client address.

uvicorn has no deadline for *receiving* a request: its keep-alive timeout covers only the idle time
between requests and is cancelled by any byte that arrives, so a client that sends half a request
line, trickles its headers, or stops short of its Content-Length holds the connection for good.
ASGI middleware cannot help (it runs only once the headers are parsed), and the peer address is
known at accept time only in the protocol. So this is a subclass of uvicorn's httptools protocol,
passed to uvicorn as its `http` class:

- **header deadline**: from the first byte of a request (or from accept, for a connection that
  sends nothing) to the end of its headers;
- **body deadline**: from the end of the headers to the end of the body;
- **keep-alive idle**: uvicorn's own timer between requests (set from the same policy);
- **per-client cap**: connections open at once from one address (per worker process); one more is
  answered `429 too_many_connections` and closed.

While the application handles a request nothing is timed here (the request's own deadline applies),
and a streamed response is unaffected: the deadlines end once the request is received.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config.sections import HttpSettings
from ..domain.errors import RateLimited

log = logging.getLogger("imagegate.connections")

_NEW, _HEADERS, _BODY, _HANDLING, _IDLE = "new", "headers", "body", "handling", "idle"


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    keepalive_timeout_seconds: float = 30.0
    max_per_client: int = 512  # 0: no cap

    @classmethod
    def from_settings(cls, http: HttpSettings) -> ConnectionPolicy:
        return cls(
            header_timeout_seconds=http.header_timeout_seconds,
            body_timeout_seconds=http.body_timeout_seconds,
            keepalive_timeout_seconds=http.keepalive_timeout_seconds,
            max_per_client=http.max_connections_per_client,
        )


_policy: ConnectionPolicy | None = None


def install(policy: ConnectionPolicy) -> type[asyncio.Protocol]:
    """Use `policy` in this process; the protocol class to hand uvicorn as `http`."""
    global _policy
    _policy = policy
    return GuardedHttpToolsProtocol


def current_policy() -> ConnectionPolicy:
    """The installed policy; in a worker process started by uvicorn, the one the environment gives."""
    global _policy
    if _policy is None:
        from ..config import load_settings

        _policy = ConnectionPolicy.from_settings(load_settings().http)
    return _policy


def refusal_response() -> bytes:
    error = RateLimited(
        "Too many connections are open from this address; close some and retry.", code="too_many_connections"
    )
    body = orjson.dumps(error.body())
    head = (
        f"HTTP/1.1 {error.status} Too Many Requests\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines and a per-client connection cap."""

    open_per_client: ClassVar[dict[str, int]] = {}

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._policy = current_policy()
        self.timeout_keep_alive = int(self._policy.keepalive_timeout_seconds) or 1
        self._phase = _NEW
        self._deadline: asyncio.TimerHandle | None = None
        self._counted: str | None = None

    # -- accept and close -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        cap = self._policy.max_per_client
        if address is not None and cap > 0:
            if self.open_per_client.get(address, 0) >= cap:
                log.warning("refused a connection from %s: %d already open (the cap)", address, cap)
                transport.write(refusal_response())
                transport.close()
                self._phase = _HANDLING
                return
            self.open_per_client[address] = self.open_per_client.get(address, 0) + 1
            self._counted = address
        self._arm(_HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted is not None:
            left = self.open_per_client.get(self._counted, 1) - 1
            if left > 0:
                self.open_per_client[self._counted] = left
            else:
                self.open_per_client.pop(self._counted, None)
            self._counted = None
        super().connection_lost(exc)

    # -- the request's phases ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._phase == _IDLE:  # the first byte of the next request: its headers are now timed
            self._arm(_HEADERS)
        super().data_received(data)

    def on_headers_complete(self) -> None:
        if self._phase == _HEADERS:
            self._arm(_BODY)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._phase in (_HEADERS, _BODY):
            self._disarm()
            self._phase = _HANDLING
            if self.cycle is not None and self.cycle.response_complete:
                # Answered before its body was read (a 401, a 413): the connection is now idle.
                self._phase = _IDLE
                self._unset_keepalive_if_required()
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._phase == _HANDLING:  # a response sent before its body was read keeps the body deadline
            self._phase = _IDLE

    # -- the timer --------------------------------------------------------------------------------

    def _arm(self, phase: str) -> None:
        self._disarm()
        self._phase = phase
        seconds = self._policy.header_timeout_seconds if phase == _HEADERS else self._policy.body_timeout_seconds
        if seconds > 0:
            self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            who = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.warning("closed the connection of %s: request %s not received in time", who, phase)
            self.transport.close()


__all__ = ["ConnectionPolicy", "GuardedHttpToolsProtocol", "current_policy", "install", "refusal_response"]
