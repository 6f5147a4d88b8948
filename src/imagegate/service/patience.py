"""Riding out a database that is briefly away (a restart, a failover, a network cut)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..db.unreachable import is_unreachable

T = TypeVar("T")


async def while_unreachable(call: Callable[[], Awaitable[T]], patience_seconds: float) -> T:
    """`call()` again, after a growing pause, each time it fails because the database is away, until it
    succeeds or `patience_seconds` have passed (then its last error). Any other error is raised at once.
    Only for calls that are safe to repeat."""
    deadline = time.monotonic() + patience_seconds
    delay = 0.05
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_unreachable(exc) or time.monotonic() + delay >= deadline:
                raise
        await asyncio.sleep(delay)  # backoff while the database is away, bounded by the deadline
        delay = min(delay * 2, 1.0)


__all__ = ["while_unreachable"]
