"""A bound on image pixels being decoded, drawn or encoded at once, in this process.

Image work costs memory by pixels (a 4096² image is 64 MB as RGBA before any encoder buffer), and
sixteen requests of four such images each, all at once, once peaked near 4 GB. Every decode (an edit's
input images too), draw, resize or encode reserves its pixels here first; past the bound it *waits* for earlier work to
finish (first come, first served) instead of failing. One image larger than the whole bound runs
alone. The bound is `IMAGEGATE_MAX_PIXELS_IN_FLIGHT` (0: none).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

DEFAULT_LIMIT = 4 * 4096 * 4096


class PixelBudget:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def reserve(self, pixels: int) -> AsyncIterator[None]:
        """Hold `pixels` of the budget for the block; waits while the budget is spent."""
        if self.limit <= 0:
            yield
            return
        pixels = max(1, min(pixels, self.limit))
        if not self._waiters and self.used + pixels <= self.limit:
            self._take(pixels)
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (pixels, waiter)
            self._waiters.append(entry)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._give_back(pixels)  # granted just as it was cancelled
                else:
                    self._waiters.remove(entry)
                    self._wake()  # it may have blocked smaller requests behind it
                raise
        try:
            yield
        finally:
            self._give_back(pixels)

    def _take(self, pixels: int) -> None:
        self.used += pixels
        self.peak = max(self.peak, self.used)

    def _give_back(self, pixels: int) -> None:
        self.used -= pixels
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.limit:
            pixels, waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._take(pixels)
            waiter.set_result(None)


_budget = PixelBudget()


def configure(limit: int) -> None:
    """Set this process's bound (at start-up, before any image work)."""
    global _budget
    _budget = PixelBudget(limit)


def budget() -> PixelBudget:
    return _budget


def reserve(pixels: int) -> AbstractAsyncContextManager[None]:
    """`async with reserve(w * h):` around image work."""
    return _budget.reserve(pixels)


__all__ = ["DEFAULT_LIMIT", "PixelBudget", "budget", "configure", "reserve"]
