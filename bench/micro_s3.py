"""obstore vs aiobotocore: one 2.4 MB put (and get) against moto's S3 server on loopback.

    .venv/bin/python bench/micro_s3.py [--n 40]

Starts `moto_server` on a free loopback port, makes a bucket, then times sequential puts of the same
2.4 MB body with each client (warm connection, same process), reporting wall ms and process CPU ms
per put (p50 / p90). The server's own cost is the same for both; the difference is the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

BODY = os.urandom(2_400_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


def _summary(name: str, wall: list[float], cpu: list[float]) -> str:
    q = lambda xs, p: sorted(xs)[int(p * (len(xs) - 1))]  # noqa: E731
    return (
        f"{name:12s} wall p50 {statistics.median(wall):6.2f} ms p90 {q(wall, 0.9):6.2f} ms | "
        f"client CPU p50 {statistics.median(cpu):5.2f} ms p90 {q(cpu, 0.9):5.2f} ms"
    )


async def _time(put: Any, n: int) -> tuple[list[float], list[float]]:
    for i in range(3):
        await put(f"warm/{i}")
    wall, cpu = [], []
    for i in range(n):
        w, c = time.perf_counter(), time.process_time()
        await put(f"k/{i}.png")
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return wall, cpu


async def _obstore(endpoint: str, n: int) -> str:
    from obstore.store import S3Store

    store = S3Store(
        "bench",
        endpoint=endpoint,
        region="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        client_options={"allow_http": True},
    )

    async def put(key: str) -> None:
        await store.put_async(key, BODY, attributes={"Content-Type": "image/png"})

    return _summary("obstore", *await _time(put, n))


async def _aiobotocore(endpoint: str, n: int) -> str:
    from aiobotocore.session import get_session

    async with get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ) as client:

        async def put(key: str) -> None:
            await client.put_object(Bucket="bench", Key=key, Body=BODY, ContentType="image/png")

        return _summary("aiobotocore", *await _time(put, n))


async def _main(n: int) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port)
        endpoint = f"http://127.0.0.1:{port}"
        from aiobotocore.session import get_session

        async with get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        ) as c:
            await c.create_bucket(Bucket="bench")
        for run in (_obstore, _aiobotocore, _obstore, _aiobotocore):
            print(await run(endpoint, n))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    asyncio.run(_main(parser.parse_args().n))
