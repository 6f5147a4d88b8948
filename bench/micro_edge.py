"""CPU of the per-request steps phase 2 touches outside the database (process CPU, all threads).

    .venv/bin/python bench/micro_edge.py

circuit record (with its publish), decode of a 1024² noise PNG's base64, parsing the upstream body,
rendering a b64_json response, conforming + storing a tiny PNG, and the b64_json delivery.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_upstream import render_png
from imagegate.domain.circuits import BreakerPolicy
from imagegate.imaging.images import Wanted, conform_image_async
from imagegate.providers import base
from imagegate.state.circuits_memory import MemoryCircuitStore
from imagegate.storage.filesystem import FilesystemBlobStore
from imagegate.storage.signing import UrlSigner


def report(name: str, seconds: float, n: int) -> None:
    print(f"{1000 * seconds / n:9.3f} ms  {name}", flush=True)


def timed(name: str, fn, n: int) -> None:  # type: ignore[no-untyped-def]
    fn()
    start = time.process_time()
    for _ in range(n):
        fn()
    report(name, time.process_time() - start, n)


async def atimed(name: str, fn, n: int) -> None:  # type: ignore[no-untyped-def]
    await fn()
    start = time.process_time()
    for _ in range(n):
        await fn()
    report(name, time.process_time() - start, n)


async def amain() -> None:
    png = render_png(1024, 1024, "noise")
    b64 = base64.b64encode(png)
    text = b64.decode()
    upstream = b'{"created":1,"data":[{"b64_json":"' + b64 + b'","revised_prompt":"x"}]}'

    class FakeResponse:
        content = upstream

    timed("decode_b64, 1024² noise (2.39 MB base64)", lambda: base.decode_b64(text, "r"), 30)
    timed("json_body of the upstream body (2.39 MB)", lambda: base.json_body(FakeResponse, "r"), 30)  # type: ignore[arg-type]

    from fastapi.responses import JSONResponse

    from imagegate.http.endpoints import images as route

    response_cls = getattr(route, "FastJSONResponse", JSONResponse)
    body = {
        "created": 1,
        "data": [{"b64_json": text, "revised_prompt": "x"}],
        "billing": {
            "images": 1,
            "images_requested": 1,
            "amount_micros": 40000,
            "currency": "USD",
            "unit_price_micros": 40000,
        },
    }
    timed(f"render the 200 body ({response_cls.__name__}), b64_json 2.39 MB", lambda: response_cls(body), 30)
    timed(
        f"render the 200 body ({response_cls.__name__}), url",
        lambda: response_cls(
            {
                **body,
                "data": [
                    {"url": "http://127.0.0.1:8080/v1/files/img_x.png?expires=1&signature=abc", "revised_prompt": None}
                ],
            }
        ),
        20000,
    )

    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryCircuitStore(BreakerPolicy(), Path(tmp))
        for i in range(20):
            await store.record(f"m/route{i}", ok=True, latency_ms=5, probe=False)
        await atimed(
            "circuit record (20 routes known)",
            lambda: store.record("m/route1", ok=True, latency_ms=5, probe=False),
            3000,
        )
        await store.aclose()

        tiny = render_png(256, 256, "flat")
        await atimed(
            f"conform_image_async, {len(tiny):,} B PNG 256²",
            lambda: conform_image_async(tiny, Wanted("png", (256, 256), None)),
            3000,
        )
        blobs = FilesystemBlobStore(Path(tmp) / "blobs", UrlSigner(b"k" * 32), "http://x")
        from imagegate.domain.ids import new_id

        await atimed(f"store.put, {len(tiny):,} B", lambda: blobs.put(new_id("img"), "png", tiny), 2000)

    from imagegate.domain.upstream import GeneratedImage
    from imagegate.service.images.delivery import Delivery

    class Req:
        response_format = "b64_json"

    delivery = Delivery(blobs, 86400)
    kwargs = {"b64": text} if "b64" in GeneratedImage.__slots__ else {}
    images = [GeneratedImage(data=png, revised_prompt="x", **kwargs)]
    await atimed("_deliver b64_json, 1024² noise", lambda: delivery.deliver(Req, images, 1, "acct_bench"), 30)  # type: ignore[arg-type]


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(amain())
