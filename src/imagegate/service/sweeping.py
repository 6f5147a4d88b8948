"""What every sweep of expired things (images, stored responses) does the same way: delete in
bounded batches, the blobs a few at a time, and in the background loop log a failure rather than stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

MAX_BATCHES = 100
"""Batches a sweep takes in one round; the next round takes the rest."""
DELETE_CONCURRENCY = 32
"""Blob deletions in flight at once."""


async def sweep_in_batches(batch: Callable[[], Awaitable[int]]) -> int:
    """Run `batch` until it sweeps nothing (at most `MAX_BATCHES` times); how many it swept in all."""
    total = 0
    for _ in range(MAX_BATCHES):
        swept = await batch()
        total += swept
        if swept == 0:
            break
    return total


async def delete_all(delete: Callable[[str], Awaitable[None]], keys: Sequence[str]) -> None:
    for start in range(0, len(keys), DELETE_CONCURRENCY):
        await asyncio.gather(*(delete(key) for key in keys[start : start + DELETE_CONCURRENCY]))


async def sweep_logged(sweep: Callable[[], Awaitable[int]], what: str, log: logging.Logger) -> None:
    """`sweep`, for the background loop: a failure is logged, and the next round tries again."""
    try:
        swept = await sweep()
    except Exception:
        log.exception("%s sweep failed", what)
        return
    if swept:
        log.info("deleted %d expired %s(s)", swept, what)


__all__ = ["DELETE_CONCURRENCY", "MAX_BATCHES", "delete_all", "sweep_in_batches", "sweep_logged"]
