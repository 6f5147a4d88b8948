"""Memory under hostile edits, on a gateway of its own (its resident memory read from /proc): a
140 KB all-zero PNG is a 6000x6000 image, 144 MB once decoded. Inputs are decoded within the same pixel
budget as the images made for answers, so concurrent big-input edits and edit quotes are all served,
one decode at a time, and the process's memory stays within what the budget allows and goes back after."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from imagegate.imaging.pixels import DEFAULT_LIMIT
from tests.conftest import Gateway, serve_gateway

EDITS, QUOTES = 12, 4
BYTES_PER_PIXEL = 5
"""What one budgeted pixel may cost at most (RGBA plus decoder and encoder buffers: docs/reliability.md)."""
SETTLED_MB = 100
"""How far above its idle memory the process may stay once the work is done (allocator slack)."""

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc (Linux)")


def _mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture(scope="module")
def lone_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from serve_gateway(tmp_path_factory, "image-memory", None)


def _zero_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height)).save(out, "PNG", compress_level=9)
    return out.getvalue()


async def _edits_and_quotes(base_url: str, key: str, png: bytes) -> list[int]:
    form = {"model": "nano-banana-2", "prompt": "a small red boat"}
    files = {"image": ("zero.png", png, "image/png")}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=300, headers=headers) as http:
        calls = [http.post("/v1/images/edits", data=form, files=files) for _ in range(EDITS)]
        calls += [http.post("/v1/images/quote", data=form, files=files) for _ in range(QUOTES)]
        return [r.status_code for r in await asyncio.gather(*calls)]


def test_concurrent_big_input_edits_stay_within_the_pixel_budget_and_give_memory_back(lone_gateway: Gateway) -> None:
    png = _zero_png(6000, 6000)
    assert len(png) < 150_000
    key = lone_gateway.new_account("0", test=True).key
    pid = lone_gateway.process.pid
    assert pid is not None
    idle = _mb(pid, "VmRSS")
    statuses = asyncio.run(_edits_and_quotes(lone_gateway.base_url, key, png))
    assert statuses == [200] * (EDITS + QUOTES)
    peak = _mb(pid, "VmHWM")
    allowed = DEFAULT_LIMIT * BYTES_PER_PIXEL / 2**20  # one 6000x6000 input fits the default budget, two do not
    assert peak - idle < allowed, f"peak {peak:.0f} MB, idle {idle:.0f} MB: more than the budget's {allowed:.0f} MB"
    deadline = time.monotonic() + 20
    while _mb(pid, "VmRSS") - idle > SETTLED_MB and time.monotonic() < deadline:
        time.sleep(0.25)  # the heap is trimmed a moment after a large image; poll, bounded
    settled = _mb(pid, "VmRSS")
    assert settled - idle <= SETTLED_MB, f"{settled:.0f} MB resident after the work, {idle:.0f} MB idle"
