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
        assert not _pending()
        heap.after_image(4096, 4096)
        heap.after_image(4096, 4096)  # while one is pending: no second
        assert _pending()
        while _pending():
            await asyncio.sleep(0.01)  # the trim runs in a worker thread; poll for its end

    asyncio.run(scenario())
    assert trims == [0]


def test_a_trim_left_pending_by_a_closed_loop_does_not_stop_the_next_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process may run several event loops one after another (the CLI, in-process tests): a trim
    whose loop closed before it ran must not count as pending for ever."""
    trims: list[int] = []
    real = heap._malloc_trim
    assert real is not None
    monkeypatch.setattr(heap, "_malloc_trim", lambda pad: trims.append(pad) or real(pad))

    async def leave_one_pending() -> None:
        monkeypatch.setattr(heap, "DELAY", 3600.0)
        heap.after_image(4096, 4096)
        assert _pending()

    async def trim_again() -> None:
        monkeypatch.setattr(heap, "DELAY", 0.0)
        heap.after_image(4096, 4096)
        assert _pending()
        while _pending():
            await asyncio.sleep(0.01)

    asyncio.run(leave_one_pending())
    asyncio.run(trim_again())
    assert trims == [0]


def _pending() -> bool:
    """A trim waits on a loop that still runs."""
    return heap._scheduled is not None and not heap._scheduled.is_closed()
