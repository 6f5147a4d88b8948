"""Slow and idle connections are closed within their deadlines; one address cannot take every socket.

A flood from 127.0.0.3 (Linux routes all of 127/8 to loopback) opens more connections than its cap,
each of one slow kind: silent, half a request line, headers trickled a byte at a time, a body shorter
than its Content-Length, an idle keep-alive. Meanwhile a client on 127.0.0.1 is served, every slow
connection is closed by the server within its deadline, and the connections over the cap are
answered `429 too_many_connections` at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Gateway, serve_gateway

HEADER_S, BODY_S, IDLE_S, CAP = 1.0, 1.5, 1.0, 40
MARGIN_S = 1.5  # scheduling slack on two shared cores
FLOOD_FROM = "127.0.0.3"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from serve_gateway(
        tmp_path_factory,
        "slowconn",
        None,
        extra_env={
            "IMAGEGATE_HEADER_TIMEOUT_SECONDS": str(HEADER_S),
            "IMAGEGATE_BODY_TIMEOUT_SECONDS": str(BODY_S),
            "IMAGEGATE_KEEPALIVE_TIMEOUT_SECONDS": str(IDLE_S),
            "IMAGEGATE_MAX_CONNECTIONS_PER_CLIENT": str(CAP),
        },
    )


async def _connect(port: int, source: str = FLOOD_FROM) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _until_closed(reader: asyncio.StreamReader, limit_s: float) -> bytes:
    """Everything the server sent until it closed the connection; fails if it is still open after `limit_s`."""
    received = b""
    deadline = time.monotonic() + limit_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the server kept the connection open past {limit_s:.1f} s")
        try:
            chunk = await asyncio.wait_for(reader.read(65536), timeout=left)
        except (ConnectionResetError, BrokenPipeError):
            return received
        if not chunk:
            return received
        received += chunk


async def _slow(
    port: int, key: str, kind: str, connected: list[int], all_in: asyncio.Event
) -> tuple[str, float, bytes]:
    """One slow client; (kind, seconds from connecting to the server's close, what it got). The clock
    starts before the connect: the server cannot have accepted (and started its deadline) earlier, while
    on a loaded machine this task may resume well after the server accepted."""
    started = time.monotonic()
    reader, writer = await _connect(port)
    connected.append(1)
    if len(connected) == CAP:
        all_in.set()
    limit = HEADER_S
    got = b""
    if kind == "half-line":
        writer.write(b"GET /v1/mod")
    elif kind == "trickled-headers":
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for _ in range(int(4 * HEADER_S / 0.25)):  # bounded: longer than the deadline, a byte each 0.25 s
            await asyncio.sleep(0.25)
            if reader.at_eof():
                break
            try:
                writer.write(b"X")
                await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                break
    elif kind == "short-body":
        writer.write(
            b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + key.encode() + b'\r\ncontent-length: 500\r\n\r\n{"model":'
        )
        limit = BODY_S
    elif kind == "answered-early":  # refused (401) before its body was read, then the body, then silence
        writer.write(b'POST /v1/images/generations HTTP/1.1\r\nHost: x\r\ncontent-length: 20\r\n\r\n{"a"')
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"}}"), timeout=5)  # the error body's end
        writer.write(b":1," + b" " * 14 + b"}")
        await writer.drain()
        started = time.monotonic()  # from here the connection is idle
        limit = IDLE_S
        got = answer
    elif kind == "idle-keepalive":
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        limit = IDLE_S
    try:
        got += await _until_closed(reader, 4 * HEADER_S + limit + MARGIN_S + 2)
    finally:
        writer.close()
    return kind, time.monotonic() - started, got


async def _flood(port: int, key: str) -> dict[str, object]:
    kinds = ["silent", "half-line", "trickled-headers", "short-body", "idle-keepalive"]
    connected: list[int] = []
    all_in = asyncio.Event()
    clients = [asyncio.create_task(_slow(port, key, kinds[i % len(kinds)], connected, all_in)) for i in range(CAP)]
    # The kernel queues accepts in order: connections made after these are accepted after them.
    await asyncio.wait_for(all_in.wait(), timeout=10)
    over = [await _connect(port) for _ in range(5)]
    refused = [await _until_closed(reader, 2 * MARGIN_S) for reader, _ in over]
    for _, writer in over:
        writer.close()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as other:
        served = [(await other.get("/healthz")).status_code for _ in range(5)]
        models = (await other.get("/v1/models")).status_code
    results = await asyncio.gather(*clients)
    # The address's count went back down: it may connect again.
    reader, writer = await _connect(port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    again = await _until_closed(reader, 5)
    writer.close()
    return {"results": results, "refused": refused, "served": served, "models": models, "again": again}


def test_a_flood_of_slow_connections_is_closed_in_time_and_others_are_served(guarded: Gateway) -> None:
    key = guarded.new_account("0", test=True).key  # the short body is read by an authorised request
    outcome = asyncio.run(_flood(guarded.port, key))

    assert outcome["served"] == [200] * 5 and outcome["models"] in (200, 401)
    for answer in outcome["refused"]:  # type: ignore[attr-defined]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 429"), answer[:200]
        assert json.loads(body)["error"]["code"] == "too_many_connections"
    limits = {
        "silent": HEADER_S,
        "half-line": HEADER_S,
        "trickled-headers": HEADER_S,
        "short-body": HEADER_S + BODY_S,
        "idle-keepalive": IDLE_S,
    }
    earliest = {**limits, "short-body": BODY_S}
    for kind, seconds, got in outcome["results"]:  # type: ignore[attr-defined]
        assert seconds <= limits[kind] + MARGIN_S, (kind, seconds)
        assert seconds >= earliest[kind] * 0.8, (kind, seconds)  # a deadline, not an immediate refusal
        if kind == "idle-keepalive":
            assert got.startswith(b"HTTP/1.1 200"), got[:100]
    assert outcome["again"].startswith(b"HTTP/1.1 200")  # type: ignore[attr-defined]
    slowest = {k: max(sec for kind, sec, _ in outcome["results"] if kind == k) for k in limits}  # type: ignore[attr-defined]
    print("slow connections closed after (s):", {k: round(v, 2) for k, v in slowest.items()})


def test_a_slow_but_timely_request_is_served(guarded: Gateway) -> None:
    async def run() -> bytes:
        reader, writer = await _connect(guarded.port, "127.0.0.4")
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        for part in (head[:10], head[10:], b"\r\n"):  # headers in three pieces, inside the deadline
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(HEADER_S / 5)
        got = await _until_closed(reader, 5)
        writer.close()
        return got

    assert asyncio.run(run()).startswith(b"HTTP/1.1 200")


def test_a_connection_answered_before_its_body_was_read_is_closed_once_idle(guarded: Gateway) -> None:
    async def run() -> tuple[str, float, bytes]:
        return await _slow(guarded.port, "", "answered-early", [], asyncio.Event())

    _, idle_seconds, got = asyncio.run(run())
    assert got.startswith(b"HTTP/1.1 401"), got[:100]
    assert idle_seconds <= IDLE_S + MARGIN_S  # closed (uvicorn may close it at once), never left open
