"""The outbound client of webhooks: one POST per attempt, bounded in time and in what it reads.

Separate from the upstream client on purpose: a webhook URL is chosen by a customer, not the
operator, so this client keeps the rules of `outbound` (no redirect, no proxy, on a public node only
public addresses, judged where the connection resolves them) and reads at most `MAX_READ_BYTES` of an answer.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping

import aiohttp

from ..domain.ports import WebhookUnreachable
from .outbound import customer_session, failures_as, literal_refusal

MAX_READ_BYTES = 4096
CONNECT_TIMEOUT_SECONDS = 5.0
RESOLVE_TIMEOUT_SECONDS = 5.0


class WebhookSender:
    """`public`: this node's addresses rules apply (see the module docstring); `timeout`: each POST's
    whole budget, connecting included."""

    def __init__(self, *, public: bool, timeout: float) -> None:
        self._public = public
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout), sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = customer_session(public=self._public)
        return self._session

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise WebhookUnreachable(f"{host} does not resolve ({type(exc).__name__})") from exc
        return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        refused = literal_refusal(url) if self._public else None
        if refused is not None:
            raise WebhookUnreachable(f"{url} points at {refused}, which a public gateway does not call")
        session = self._open()
        with failures_as(WebhookUnreachable, self._timeout):
            async with session.post(
                url, data=body, headers=dict(headers), allow_redirects=False, timeout=self._timeout
            ) as response:
                await response.content.read(MAX_READ_BYTES)  # at most this much; the rest is dropped
                return response.status

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


__all__ = ["MAX_READ_BYTES", "WebhookSender"]
