"""The outbound client of webhooks: one POST per attempt, bounded in time and in what it reads.

Separate from the upstream client on purpose: a webhook URL is chosen by a customer, not the
operator, so this client never follows a redirect, never uses a proxy (which would resolve names
where the address rules cannot see), reads at most `MAX_READ_BYTES` of an answer, and, on a public
node, connects only to addresses that `domain.webhook_url.refused_address` allows: the check sits in
the resolver the connection itself uses, so a name cannot resolve to one address when checked and
another when connected (DNS rebinding). aiohttp asks no resolver for an address literal, so a literal
is checked here as yarl (aiohttp's own URL parser) reads it: `https://①②⑦.0.0.1/` is `127.0.0.1`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from ..domain.ports import WebhookUnreachable
from ..domain.webhook_url import refused_address

MAX_READ_BYTES = 4096
CONNECT_TIMEOUT_SECONDS = 5.0
RESOLVE_TIMEOUT_SECONDS = 5.0


class _PublicAddressesOnly(AbstractResolver):
    """Resolves as usual, then refuses the host if any of its addresses is not a public one."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            why = refused_address(ipaddress.ip_address(result["host"].split("%", 1)[0]))
            if why is not None:
                raise OSError(f"{host} resolves to {why} ({result['host']}), which a public gateway does not call")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _refuse_literal(url: str) -> None:
    """On a public node: an address literal in `url`, as the connection will see it, must be public."""
    try:
        host = yarl.URL(url).raw_host or ""
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:  # a name (the resolver checks it), or a URL aiohttp refuses before connecting
        return
    why = refused_address(address)
    if why is not None:
        raise WebhookUnreachable(f"{url} points at {why} ({address}), which a public gateway does not call")


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
            resolver = _PublicAddressesOnly() if self._public else ThreadedResolver()
            connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=100, limit_per_host=4)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
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
        if self._public:
            _refuse_literal(url)
        session = self._open()
        try:
            async with session.post(
                url, data=body, headers=dict(headers), allow_redirects=False, timeout=self._timeout
            ) as response:
                await response.content.read(MAX_READ_BYTES)  # at most this much; the rest is dropped
                return response.status
        except TimeoutError as exc:
            raise WebhookUnreachable(f"no answer within {self._timeout.total} s") from exc
        except aiohttp.ClientConnectorError as exc:
            raise WebhookUnreachable(f"cannot connect: {exc.os_error}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise WebhookUnreachable(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


__all__ = ["MAX_READ_BYTES", "WebhookSender"]
