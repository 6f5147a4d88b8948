"""CPU of the HTTP edge alone: the full ASGI stack (middleware, routing, the generation route, the
response) around a stub gateway that answer at once (no database, no upstream).

    .venv/bin/python bench/micro_edge_http.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from types import SimpleNamespace
from typing import Any

from imagegate.asgi import create_app
from imagegate.config import load_settings
from imagegate.domain.ids import new_id
from imagegate.service.images.generation import GenerationResult

BODY = b'{"model":"fake/img=flat","prompt":"x","size":"256x256"}'
RESULT = GenerationResult(
    body={
        "created": 1,
        "data": [{"url": "http://127.0.0.1:8080/v1/files/img_01jd.png?expires=1&signature=ab", "revised_prompt": None}],
        "billing": {
            "images": 1,
            "images_requested": 1,
            "amount_micros": 40000,
            "currency": "USD",
            "unit_price_micros": 40000,
        },
    },
    cost_micros=40000,
    headers={"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59"},
)


async def main(n: int = 20000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(load_settings({"IMAGEGATE_DATA_DIR": tmp}))

        async def principal_for(key: Any) -> object:
            return object()

        async def generate(*args: Any, **kwargs: Any) -> GenerationResult:
            return RESULT

        app.state.gateway = SimpleNamespace(
            authenticator=SimpleNamespace(principal_for=principal_for), images=SimpleNamespace(generate=generate)
        )
        scope_base = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/images/generations",
            "raw_path": b"/v1/images/generations",
            "query_string": b"",
            "root_path": "",
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8080),
            "headers": [
                (b"host", b"127.0.0.1:8080"),
                (b"authorization", b"Bearer k"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
            ],
        }
        statuses = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def one() -> None:
            await app({**scope_base, "app": app, "state": {}}, receive, send)  # type: ignore[arg-type]

        # uvicorn passes a fresh scope per request; lifespan is not run: the stub replaces the gateway
        for _ in range(200):
            await one()
        assert set(statuses) == {200}, set(statuses)
        start = time.process_time()
        for _ in range(n):
            await one()
        print(
            f"{1e6 * (time.process_time() - start) / n:8.1f} us  POST /v1/images/generations through the ASGI stack (stub service)"
        )
        start = time.process_time()
        for _ in range(n):
            new_id("req")
        print(f"{1e6 * (time.process_time() - start) / n:8.1f} us  new_id")


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    asyncio.run(main())
