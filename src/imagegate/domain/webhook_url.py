"""Which webhook URLs a key may have, and which addresses a webhook may be sent to (hostile input).

A webhook makes the gateway send a request wherever the URL points, so a URL is a way to reach the
gateway's own network. The rules:

- `https://` only; plain `http://` only to a loopback host (`127.0.0.1`, `localhost`, `::1`), for a
  receiver on the same machine;
- no credentials in the URL, no fragment, at most `MAX_URL_CHARS`, nothing unstorable;
- on a *public* node (its public URL's host is not a loopback host) every address the host is or
  resolves to must be a global unicast address: loopback, private, link-local, shared, reserved,
  multicast and unspecified addresses are refused, IPv4 and IPv6 alike, including IPv4 addresses
  embedded in IPv6 (mapped, 6to4, Teredo, NAT64).

The same rules are checked when the URL is set and again before each delivery (DNS may change),
on the host *as the HTTP client will connect to it* (`client_host`): yarl, under aiohttp, maps a
non-ASCII host through IDNA, so `https://１２７.０.０.１/` and `https://①②⑦.0.0.1/` reach `127.0.0.1`,
and aiohttp asks no resolver for an address literal.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import SplitResult, urlsplit

import idna

from .errors import InvalidRequest
from .text import check_text

MAX_URL_CHARS = 2048
PARAM = "webhook_url"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ENCODED_NAME = re.compile(r"[a-z0-9.:-]+")
"""What IDNA may turn a non-ASCII host into: a name of letters, digits, dots and hyphens (colons: an
IPv6 literal). Anything else (a full-width `／` becomes `/`) is not a host."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked URL: its host and port, and the address when the host is an IP literal."""

    url: str
    host: str
    port: int
    literal: IPAddress | None


def client_host(host: str) -> str:
    """`host` (as `urlsplit` gives it: no brackets) the way the webhook client connects to it.

    yarl (aiohttp's URL) lower-cases an ASCII host and maps any other through IDNA's UTS #46 mapping,
    falling back to IDNA 2003 (nameprep, NFKC) where that fails: the same calls here, so full-width
    and circled digits and the ideographic full stop become the ASCII address they stand for.
    """
    if host.isascii():
        return host.lower()
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError:
        try:
            encoded = host.encode("idna").decode("ascii")
        except UnicodeError:
            _refuse("has a host that is not a valid name")
    if not _ENCODED_NAME.fullmatch(encoded):
        _refuse("has a host that is not a valid name")
    return encoded


def is_loopback_host(host: str | None) -> bool:
    """`localhost`, or a loopback address literal (127.0.0.0/8, ::1)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refused_address(address: IPAddress) -> str | None:
    """Why a public node may not send to `address` (None: it may): anything but global unicast."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refused_address(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_private:
        return "a private address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_webhook_url(url: object, *, public: bool) -> WebhookTarget:
    """The URL's target, or a 400 `invalid_value` (param `webhook_url`) saying what is wrong.

    Only the URL itself is judged here; a host name's resolved addresses are checked with
    `refused_address` by whoever resolves it (the caller when it is set, the sender when it sends).
    """
    if not isinstance(url, str):
        raise InvalidRequest("'webhook_url' must be a string.", code="invalid_type", param=PARAM)
    check_text(url, PARAM, MAX_URL_CHARS)
    if url != url.strip() or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        _refuse("must not contain spaces or control characters")
    parts = _split(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        _refuse("must be an absolute https:// URL")
    host = client_host(parts.hostname)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        _refuse("must not contain credentials (user:password@)")
    if parts.fragment or url.endswith("#"):
        _refuse("must not contain a fragment (#…)")
    if parts.scheme == "http" and not is_loopback_host(host):
        _refuse("must use https:// (plain http:// only to a loopback host such as 127.0.0.1)")
    literal = _literal(host)
    if public:
        if host.strip("[]").lower() in LOOPBACK_NAMES - {"127.0.0.1", "::1"}:
            _refuse("points at this machine (localhost), which a public gateway does not call")
        if literal is not None and (why := refused_address(literal)) is not None:
            _refuse(f"points at {why} ({literal}), which a public gateway does not call")
    return WebhookTarget(url, host, _port(parts), literal)


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError:
        _refuse("is not a valid URL")
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _refuse(why: str) -> NoReturn:
    raise InvalidRequest(f"The webhook URL {why}.", code="invalid_value", param=PARAM)


__all__ = [
    "MAX_URL_CHARS",
    "IPAddress",
    "WebhookTarget",
    "check_webhook_url",
    "client_host",
    "is_loopback_host",
    "refused_address",
]
