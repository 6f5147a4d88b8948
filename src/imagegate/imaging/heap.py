"""Hand memory freed after a large image back to the operating system.

A 4096² image is 29 MB as PNG, 38 MB as base64 and 64 MB as decoded pixels, and a re-encode runs in
a worker thread. glibc keeps what those buffers grew (the per-thread arenas most of all), so without
this the gateway's RSS stays at its high-water mark long after the last large image. `malloc_trim(0)`
walks every arena, so it runs in a thread, at most once per `DELAY` seconds, a moment after a large
request (whose buffers are freed only once its answer has been sent).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable

LARGE_PIXELS = 2048 * 2048
DELAY = 1.0

log = logging.getLogger("imagegate.heap")


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_malloc_trim = _find_malloc_trim()
_scheduled: asyncio.AbstractEventLoop | None = None
"""The loop a trim is pending on. One that closed before its trim ran (a process may run several
loops one after another: the CLI, tests) leaves none pending: the next large image schedules again."""


def after_image(width: int, height: int) -> None:
    """Note a request that made a `width`×`height` image; trims the heap soon if that was large."""
    global _scheduled
    if _malloc_trim is None or width * height < LARGE_PIXELS or (_scheduled is not None and not _scheduled.is_closed()):
        return
    _scheduled = asyncio.get_running_loop()
    _scheduled.call_later(DELAY, _start_trim)


def _start_trim() -> None:
    assert _malloc_trim is not None
    task = asyncio.ensure_future(asyncio.to_thread(_malloc_trim, 0))
    task.add_done_callback(_trimmed)


def _trimmed(task: asyncio.Future[int]) -> None:
    global _scheduled
    _scheduled = None
    if not task.cancelled() and task.exception() is not None:
        log.warning("malloc_trim failed: %s", task.exception())


__all__ = ["after_image"]
