"""In-process limiter state: right for one node; several nodes need `state.redis`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..domain.ratelimit import Decision, Limit, take


class MemoryLimiterState:
    """Buckets and in-flight sets in dicts. Each method runs without awaiting, so it is atomic
    on the event loop."""

    def __init__(self, clock_ms: Callable[[], float] | None = None) -> None:
        self._clock_ms = clock_ms or (lambda: time.monotonic() * 1000)
        self._tats: dict[str, float] = {}
        self._in_flight: dict[str, dict[str, float]] = {}

    async def take(self, key: str, limits: Sequence[Limit]) -> Decision:
        now = self._clock_ms()
        names = [f"{key}:{limit.name}" for limit in limits]
        decision, tats = take([self._tats.get(name, 0.0) for name in names], now, limits)
        if decision.allowed:
            self._tats.update(zip(names, tats, strict=True))
            self._forget_full(now)
        return decision

    async def enter(self, scope: str, token: str, cap: int, ttl_seconds: float) -> bool:
        now = self._clock_ms()
        entries = {t: until for t, until in self._in_flight.get(scope, {}).items() if until > now}
        if len(entries) >= cap:
            self._in_flight[scope] = entries
            return False
        entries[token] = now + ttl_seconds * 1000
        self._in_flight[scope] = entries
        self._forget_expired(now)
        return True

    async def leave(self, scope: str, token: str) -> None:
        entries = self._in_flight.get(scope)
        if entries is not None:
            entries.pop(token, None)
            if not entries:
                del self._in_flight[scope]

    async def aclose(self) -> None:
        return None

    def _forget_expired(self, now: float) -> None:
        """Drop scopes whose every entry has expired (one per client address that once guessed an admin
        token, say), bounding memory."""
        if len(self._in_flight) > 10_000:
            self._in_flight = {
                scope: entries
                for scope, entries in self._in_flight.items()
                if any(until > now for until in entries.values())
            }

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (a past TAT means a full bucket), bounding memory."""
        if len(self._tats) > 10_000:
            self._tats = {name: tat for name, tat in self._tats.items() if tat > now}


__all__ = ["MemoryLimiterState"]
