"""BodySizeLimitMiddleware stops reading at the limit: driven as a plain ASGI app, no server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from imagegate.domain.errors import RequestTooLarge
from imagegate.http.body_limit import BodySizeLimitMiddleware

CHUNK = 1024


class Client:
    """An ASGI `receive` that hands out `chunks` one by one and counts how many were taken."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.taken = 0

    async def receive(self) -> dict[str, Any]:
        self.taken += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": self.taken < self.chunks}


async def read_all(scope: dict[str, Any], receive: Any, send: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)


def run(chunks: int, limit: int, headers: list[tuple[bytes, bytes]] | None = None) -> Client:
    client = Client(chunks)
    app = BodySizeLimitMiddleware(read_all, max_bytes=limit)

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("the middleware never answers by itself")

    asyncio.run(app({"type": "http", "headers": headers or []}, client.receive, send))  # type: ignore[arg-type]
    return client


def test_a_body_within_the_limit_is_read_whole() -> None:
    assert run(chunks=4, limit=4 * CHUNK).taken == 4


def test_reading_stops_at_the_first_chunk_past_the_limit() -> None:
    with pytest.raises(RequestTooLarge) as caught:
        run(chunks=1000, limit=3 * CHUNK + 10)
    assert caught.value.status == 413 and caught.value.code == "request_too_large"


def test_counting_stops_after_four_of_a_thousand_chunks() -> None:
    client = Client(1000)
    app = BodySizeLimitMiddleware(read_all, max_bytes=3 * CHUNK + 10)

    async def go() -> None:
        with pytest.raises(RequestTooLarge):
            await app({"type": "http", "headers": []}, client.receive, None)  # type: ignore[arg-type]

    asyncio.run(go())
    assert client.taken == 4


def test_a_declared_length_over_the_limit_reads_nothing() -> None:
    client = Client(1000)
    app = BodySizeLimitMiddleware(read_all, max_bytes=CHUNK)

    async def go() -> None:
        with pytest.raises(RequestTooLarge):
            await app({"type": "http", "headers": [(b"content-length", b"999999")]}, client.receive, None)  # type: ignore[arg-type]

    asyncio.run(go())
    assert client.taken == 0


def test_a_path_whose_json_carries_images_takes_a_larger_body_of_any_type() -> None:
    async def go(path: str) -> None:
        client = Client(8)
        app = BodySizeLimitMiddleware(read_all, max_bytes=4 * CHUNK, any_body_limits={"/v1/responses": 16 * CHUNK})
        scope = {"type": "http", "path": path, "headers": [(b"content-type", b"application/json")]}
        await app(scope, client.receive, None)  # type: ignore[arg-type]

    asyncio.run(go("/v1/responses"))  # 8 KiB of JSON with images inline: read whole
    with pytest.raises(RequestTooLarge):
        asyncio.run(go("/v1/images/generations"))
