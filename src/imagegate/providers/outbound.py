"""Outbound HTTP to a URL a customer chose (a webhook, an input image): what the webhook sender and
the image URL reader share.

No redirects, no proxy (which would resolve names where the address rules cannot see), and on a
public node only the addresses `domain.webhook_url.refused_address` allows: judged in the resolver the
connection itself uses, so a name cannot resolve to one address when checked and another when
connected (DNS rebinding); aiohttp asks no resolver for an address literal, so a literal is judged on
the host as yarl (aiohttp's own URL parser) reads it: `https://①②⑦.0.0.1/` is `127.0.0.1`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from ..domain.webhook_url import refused_address


class PublicAddressesOnly(AbstractResolver):
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


def literal_refusal(url: str) -> str | None:
    """For a public node: why the address literal in `url` may not be called (`loopback (127.0.0.1)`),
    or None when it may, or when the host is a name (the resolver judges each of its addresses)."""
    try:
        host = yarl.URL(url).raw_host or ""
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:  # a name, or a URL aiohttp refuses before connecting
        return None
    why = refused_address(address)
    return None if why is None else f"{why} ({address})"


def customer_session(*, public: bool, headers: Mapping[str, str] | None = None) -> aiohttp.ClientSession:
    """A session under the address rules (`public`), that never reads a proxy from the environment."""
    resolver = PublicAddressesOnly() if public else ThreadedResolver()
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=100, limit_per_host=4)
    return aiohttp.ClientSession(connector=connector, trust_env=False, headers=headers)


@contextmanager
def failures_as(error: type[Exception], timeout: aiohttp.ClientTimeout) -> Iterator[None]:
    """A request's transport failure raised as `error`, in words a customer can act on."""
    try:
        yield
    except TimeoutError as exc:
        raise error(f"no answer within {timeout.total:g} s") from exc
    except aiohttp.ClientConnectorError as exc:
        raise error(f"cannot connect: {exc.os_error}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise error(f"{type(exc).__name__}: {exc}") from exc


__all__ = ["PublicAddressesOnly", "customer_session", "failures_as", "literal_refusal"]
