"""A minimal raw HTTP/1.1 client over a socket, for requests no well-behaved client library would send
(unescaped non-ASCII in a query, hand-built JSON with lone surrogates, odd headers).

One request per connection (`Connection: close`); every read is bounded by a timeout and a size.
Loopback only.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    port: int,
    method: str,
    target: bytes | str,
    *,
    headers: dict[str, bytes | str] | None = None,
    body: bytes = b"",
    timeout: float = 30.0,
) -> RawResponse:
    """Send exactly these bytes (the target is not escaped) to 127.0.0.1:`port` and read the answer."""
    target_bytes = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + (value.encode("latin-1") if isinstance(value, str) else value))
    if body or method in ("POST", "PUT"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    payload = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks: list[bytes] = []
        received = 0
        while received < MAX_RESPONSE_BYTES:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    return _parse(b"".join(chunks))


def _parse(data: bytes) -> RawResponse:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no complete HTTP response: {data[:200]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    return RawResponse(status, headers, body)


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    for _ in range(100_000):
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


__all__ = ["RawResponse", "dechunk", "raw_request"]
