"""Riding out a database that is briefly away (a restart, a failover, a network cut)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..db.unreachable import is_unreachable
from ..domain.errors import ServiceUnavailable

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


def database_unavailable() -> ServiceUnavailable:
    """What a client is told when the database is away: money lives there, so nothing was charged."""
    return ServiceUnavailable(
        "The gateway's database cannot be reached; nothing was charged. Retry shortly.",
        code="database_unavailable",
        headers={"retry-after": "1"},
    )


def as_gateway_error(exc: BaseException) -> BaseException:
    """`exc`, or `database_unavailable()` when it is the database being away: what a request's usage
    record and a job's error say, as the HTTP layer answers it (never `500 internal_error`)."""
    return database_unavailable() if is_unreachable(exc) else exc


__all__ = ["as_gateway_error", "database_unavailable", "while_unreachable"]
