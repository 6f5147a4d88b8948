"""Retries of one route: exponential backoff with full jitter, Retry-After honoured, inside a deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..domain.upstream import GeneratedImage, RouteUnavailable, UpstreamProblem, UpstreamTimedOut


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int
    base_seconds: float
    max_seconds: float

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, base * 2^(attempt-1)], capped."""
        return rng.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


@dataclass(slots=True)
class RouteCall:
    """How a call to one route went; `attempts` counts every upstream request made."""

    attempts: int = 0


Attempt = Callable[[float], Awaitable[list[GeneratedImage]]]
"""One upstream request, given its timeout."""


async def call_with_retries(
    attempt_once: Attempt,
    *,
    policy: RetryPolicy,
    attempt_timeout: float,
    deadline: float,
    call: RouteCall,
    rng: random.Random | None = None,
) -> list[GeneratedImage]:
    """Call until success, a non-retryable problem, the attempt budget, or the deadline (monotonic).

    A Retry-After longer than the policy's longest wait, or past the deadline, ends the retries on
    this route at once (the router may fail over); safety refusals pass straight through. A circuit
    that opens between attempts ends them too, with the failure that opened it.
    """
    rng = rng or random.Random()
    last: UpstreamProblem | None = None
    for attempt in range(1, policy.attempts + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimedOut("the request's deadline passed before the upstream answered")
        call.attempts += 1
        try:
            return await attempt_once(min(attempt_timeout, remaining))
        except RouteUnavailable:
            call.attempts -= 1  # the route was not called this time
            if last is not None:
                raise last from None
            raise
        except UpstreamProblem as problem:
            last = problem
            if not problem.retryable or attempt == policy.attempts:
                raise
            wait = policy.backoff(attempt, rng)
            if problem.retry_after is not None:
                if problem.retry_after > policy.max_seconds:
                    raise
                wait = max(wait, problem.retry_after)
            if time.monotonic() + wait >= deadline:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["Attempt", "RetryPolicy", "RouteCall", "call_with_retries"]
