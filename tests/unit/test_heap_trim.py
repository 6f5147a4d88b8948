"""After a large image the gateway hands freed heap back to the OS (glibc's malloc_trim), soon and
at most once at a time; small images never trigger it."""

from __future__ import annotations

import asyncio

import pytest

from imagegate.imaging import heap

pytestmark = pytest.mark.skipif(heap._malloc_trim is None, reason="needs glibc's malloc_trim (Linux)")


def test_only_a_large_image_schedules_one_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "DELAY", 0.0)
    trims: list[int] = []
    real = heap._malloc_trim
    assert real is not None
    monkeypatch.setattr(heap, "_malloc_trim", lambda pad: trims.append(pad) or real(pad))

    async def scenario() -> None:
        heap.after_image(1024, 1024)
        assert not heap._scheduled
        heap.after_image(4096, 4096)
        heap.after_image(4096, 4096)  # while one is pending: no second
        assert heap._scheduled
        while heap._scheduled:
            await asyncio.sleep(0.01)  # the trim runs in a worker thread; poll for its end

    asyncio.run(scenario())
    assert trims == [0]
