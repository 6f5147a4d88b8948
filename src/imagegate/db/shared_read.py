"""One read at a time of what many requests ask for at once (the live price cards, the live cost items).

A request that finds a node's memory stale reads the table; the requests in flight that find it stale
meanwhile wait for that read instead of each making their own (at 64 in flight, 64 reads through the
pool). Reads are told apart by a key (the price cards' freshness stamp): a caller wanting another
key's answer starts its own read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def get(self, key: Hashable = None) -> T:
        """The answer of the read of `key` running now, or of one started for this caller. A caller
        cancelled while it waits does not cancel the read the others wait for."""
        running = self._running.get(key)
        if running is None or running.get_loop() is not asyncio.get_running_loop():  # none, or a closed loop's
            running = asyncio.ensure_future(self._read())
            self._running[key] = running
            running.add_done_callback(partial(self._done, key))
        return await asyncio.shield(running)

    def _done(self, key: Hashable, read: asyncio.Future[T]) -> None:
        if self._running.get(key) is read:
            del self._running[key]
        if not read.cancelled():
            read.exception()  # retrieved here; each waiter raises it


__all__ = ["SharedRead"]
