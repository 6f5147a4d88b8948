"""CPU of the retention index on the request path: one `ImagesRepo.record` per delivered request
(with a prompt: on SQLite that is also one row of the library's FTS5 index; without: none).

    .venv/bin/python bench/micro_images_index.py [--requests 5000] [--concurrency 64] [--database-url URL]

Migrates a fresh database (SQLite in a temp dir by default), then drives `ImagesRepo.record` (the
images row written before the bytes) through the gateway's own runner from uvloop with 64 in flight,
and, for scale, `UsageRepo.record` the same way. Prints CPU ms per call of the whole process.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import uvloop

from imagegate.db.engine import create_engine, migrate
from imagegate.db.images import ImageOwner, ImagesRepo, NewImage
from imagegate.db.runner import runner_for
from imagegate.db.usage import UsageRecord, UsageRepo
from imagegate.domain.ids import new_id


async def drive(call: Callable[[int], Awaitable[None]], requests: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await call(i)

    started = time.process_time()
    await asyncio.gather(*(one(i) for i in range(requests)))
    return (time.process_time() - started) / requests * 1000


PROMPT = "A lighthouse on a cliff at dawn, watercolour, soft light over a calm sea with two gulls"


def usage_record() -> UsageRecord:
    return UsageRecord(
        new_id("req"),
        "acct_bench",
        "key_bench",
        "gpt-image-2",
        "openai",
        1,
        1,
        1,
        "1024x1024",
        "low",
        200,
        None,
        11000,
        11000,
        420,
        None,
        "images",
        datetime.now(UTC),
    )


async def amain(requests: int, concurrency: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(url or f"sqlite+aiosqlite:///{tmp}/bench.db")
        await migrate(engine)
        runner = runner_for(engine)
        images, usage = ImagesRepo(engine, runner), UsageRepo(engine, runner)
        prompted = ImageOwner("acct_bench", "req_bench", "gpt-image-2", "1024x1024", prompt=PROMPT, cost_micros=11000)
        bare = ImageOwner("acct_bench", "req_bench", "gpt-image-2", "1024x1024")
        for _ in range(2):
            for name, owner in (("with a prompt", prompted), ("without", bare)):
                revised = owner.prompt
                index = await drive(
                    lambda i, o=owner, r=revised: images.record(  # type: ignore[misc]
                        o, [NewImage(new_id("img"), r, thumbnail=True)], "png", 2_000_000_000, 1_900_000_000
                    ),
                    requests,
                    concurrency,
                )
                print(f"{engine.dialect.name}: ImagesRepo.record ({name}) {index:.3f} ms CPU/call")
            records = await drive(lambda i: usage.record(usage_record()), requests, concurrency)
            print(f"{engine.dialect.name}: UsageRepo.record {records:.3f} ms CPU/call")
        await runner.aclose()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    uvloop.run(amain(args.requests, args.concurrency, args.database_url))
