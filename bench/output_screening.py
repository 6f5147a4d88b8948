"""The cost of output screening per 1024x1024 image (issue 22), in this process, on this CPU.

    .venv/bin/python bench/output_screening.py [--repeats 30]

For each delivered format (PNG, JPEG, WebP of a 1024x1024 image as large as a real one: 4 random bits
per channel, like run.py's `img=noise`), the median wall and CPU time of:

- `local`: the reduced view (`images.screening_view`, 640 px) and NudeNet's inference on it
  (`LocalDetector.scores`, as the gateway runs it: in a worker thread);
- `moderation`: the gateway's own work before the call (the 1024 px view, its JPEG, its base64 data
  URL). The endpoint's own latency is network and OpenAI's; it cannot be measured offline.

Prints a table and one JSON line. The machine is shared: read medians, and rerun for the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import time
from collections.abc import Callable

import pybase64
from PIL import Image

from imagegate.imaging.images import screening_view
from imagegate.providers.local_classifier import VIEW_SIDE, LocalDetector
from imagegate.providers.moderation import IMAGE_SIDE, _jpeg

SIDE = 1024


def noise_image() -> Image.Image:
    rng = random.Random(22)
    raw = bytes(rng.getrandbits(4) << 4 | 0x08 for _ in range(SIDE * SIDE * 3))
    return Image.frombytes("RGB", (SIDE, SIDE), raw)


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {"quality": 100} if fmt == "WEBP" else {}))
    return out.getvalue()


def timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of `work` (after one warm-up call)."""
    work()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def pair(row: dict[str, float], name: str) -> str:
    return f"{row[name + '_ms']:.0f} / {row[name + '_cpu_ms']:.0f} ms"


def measure(data: bytes, detector: LocalDetector, repeats: int) -> dict[str, float]:
    local_view = screening_view(data, VIEW_SIDE)
    moderation_view = screening_view(data, IMAGE_SIDE)
    row = {"bytes": float(len(data))}
    row["local_view_ms"], row["local_view_cpu_ms"] = timed(lambda: screening_view(data, VIEW_SIDE), repeats)
    row["local_infer_ms"], row["local_infer_cpu_ms"] = timed(lambda: asyncio.run(detector.scores(local_view)), repeats)
    row["moderation_view_ms"], row["moderation_view_cpu_ms"] = timed(lambda: screening_view(data, IMAGE_SIDE), repeats)
    row["moderation_encode_ms"], row["moderation_encode_cpu_ms"] = timed(
        lambda: pybase64.b64encode_as_string(_jpeg(moderation_view)), repeats
    )
    row["moderation_payload_bytes"] = float(len(pybase64.b64encode_as_string(_jpeg(moderation_view))))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    detector = LocalDetector.load()
    image = noise_image()
    figures: dict[str, dict[str, float]] = {}
    for fmt in ("PNG", "JPEG", "WEBP"):
        figures[fmt.lower()] = measure(encoded(image, fmt), detector, args.repeats)
    print(f"cpu: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; wall / CPU, medians")
    print(
        "| format | bytes | local: view | local: inference | local: total | moderation: view + JPEG + base64 | payload |"
    )
    print("|---|---|---|---|---|---|---|")
    for fmt, r in figures.items():
        print(
            f"| {fmt} | {r['bytes'] / 1e6:.2f} MB | {pair(r, 'local_view')} | {pair(r, 'local_infer')} | "
            f"{r['local_view_ms'] + r['local_infer_ms']:.0f} / {r['local_view_cpu_ms'] + r['local_infer_cpu_ms']:.0f} ms"
            f" | {r['moderation_view_ms'] + r['moderation_encode_ms']:.0f} / "
            f"{r['moderation_view_cpu_ms'] + r['moderation_encode_cpu_ms']:.0f} ms | "
            f"{r['moderation_payload_bytes'] / 1e3:.0f} kB |"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
