"""What a C2PA manifest costs per image: the gateway's marker (c2pa-python) on 1024² and 4096² images,
PNG, JPEG and WebP, as the gateway encodes them, from noise pixels (4 random bits per channel, as large
as real images), and the event loop's longest stall while images are marked in the thread pool.

    .venv/bin/python bench/micro_c2pa.py [--repeats 15]

Wall time (median and best of `--repeats`) and CPU time per image; "+parent" adds an upstream manifest
kept as the parent ingredient (an OpenAI image). The gateway's own chain (ECDSA P-256) signs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread
from PIL import Image

from imagegate.domain.provenance import Change, Edit, Marking, Origin
from imagegate.imaging.images import encode
from imagegate.provenance.c2pa_marker import SIGNING_THREADS, C2paMarker
from imagegate.provenance.credentials import load_credentials

Mark = Callable[[bytes, Marking], Awaitable[bytes]]


def noise(side: int) -> Image.Image:
    rng = random.Random(side)
    keep_low_nibble = bytes((i & 0x0F) + 0x70 for i in range(256))
    return Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3).translate(keep_low_nibble))


def encoded(side: int, fmt: str) -> bytes:
    level = 1 if side * side > 4_200_000 else 6  # what images.encode picks for the size
    return encode(noise(side), fmt, None, png_compress_level=level)


def timed(fn, repeats: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return 1000 * statistics.median(walls), 1000 * min(walls), 1000 * statistics.median(cpus)


async def loop_stall(mark: Mark, data: bytes, marking: Marking, images: int) -> tuple[float, float]:
    """(longest gap between 1 ms ticks of the event loop, wall ms) while `images` are marked at once."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    start = time.perf_counter()
    await asyncio.gather(*(mark(data, marking) for _ in range(images)))
    wall = time.perf_counter() - start
    done.set()
    await ticker
    return 1000 * max(gaps), 1000 * wall


def stalls(marker: C2paMarker, rounds: int) -> None:
    """The marker (SIGNING_THREADS at once) against every image in a thread of its own."""

    async def unlimited(data: bytes, marking: Marking) -> bytes:
        return await anyio.to_thread.run_sync(marker.mark_now, data, marking)

    origin = Origin("gpt-image-2", "OpenAI")
    for side, images in ((1024, 8), (4096, 2)):
        data = encoded(side, "png")
        for label, mark in ((f"the marker ({SIGNING_THREADS} at once)", marker.mark), ("one thread each", unlimited)):
            runs = [asyncio.run(loop_stall(mark, data, Marking(origin, "png"), images)) for _ in range(rounds)]
            stall, wall = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            print(
                f"{images} x {side}² PNG at once, {label:22}: {wall:5.0f} ms, longest event loop stall {stall:5.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    marker = C2paMarker(load_credentials(None, None, Path(tempfile.mkdtemp())), "bench")
    vendor = C2paMarker(load_credentials(None, None, Path(tempfile.mkdtemp())), "vendor")
    origin = Origin("gpt-image-2", "OpenAI")
    print(f"{'image':18} {'bytes':>12} {'median ms':>10} {'best ms':>8} {'cpu ms':>7}")
    for side in (1024, 4096):
        for fmt in ("png", "jpeg", "webp"):
            data = encoded(side, fmt)
            repeats = args.repeats if side == 1024 else max(3, args.repeats // 3)
            plain = Marking(origin, fmt)
            median, best, cpu = timed(lambda: marker.mark_now(data, plain), repeats)  # noqa: B023
            print(f"{side}² {fmt:12} {len(data):>12,} {median:>10.1f} {best:>8.1f} {cpu:>7.1f}")
            if side == 1024:
                parent = vendor.mark_now(data, Marking(Origin("vendor", "vendor"), fmt))
                kept = Marking(origin, fmt, (Edit(Change.CONVERTED, "x"),), parent)
                median, best, cpu = timed(lambda: marker.mark_now(data, kept), repeats)  # noqa: B023
                print(f"{side}² {fmt + ' +parent':12} {len(data):>12,} {median:>10.1f} {best:>8.1f} {cpu:>7.1f}")
    stalls(marker, rounds=5)


if __name__ == "__main__":
    main()
