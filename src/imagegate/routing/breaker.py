"""A provider wrapper that keeps one route's circuit breaker (rules in domain/circuits.py).

Every call is recorded with its latency: an upstream problem counts as a failure; an image, or a
safety refusal (the upstream answered, and well), as a success. While the circuit is open the route
is not called at all: `RouteUnavailable`, which the router treats as "fail over".
"""

from __future__ import annotations

import logging
import time

from ..domain.circuits import OPEN, PROBE
from ..domain.errors import ContentBlocked
from ..domain.ports import CircuitStore, Provider
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, RouteUnavailable, UpstreamProblem
from .wrapper import ProviderWrapper, UpstreamCall

log = logging.getLogger("imagegate.routing")

PROBE_GRACE_SECONDS = 5.0
"""How long past its timeout a probe keeps the probe slot (then another node or request may probe)."""


class CircuitBreaker(ProviderWrapper):
    def __init__(self, inner: Provider, store: CircuitStore, key: str) -> None:
        super().__init__(inner)
        self._store = store
        self._key = key

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        admission = await self._store.admit(self._key, lease_seconds=timeout + PROBE_GRACE_SECONDS)
        if admission == OPEN:
            raise RouteUnavailable(f"route {self._key}: circuit open, not called")
        probe = admission == PROBE
        if probe:
            log.warning("route %s: circuit half open, sending one probe", self._key)
        started = time.monotonic()
        try:
            images = await call()
        except ContentBlocked:
            await self._record(True, started, probe)
            raise
        except UpstreamProblem:
            await self._record(False, started, probe)
            raise
        await self._record(True, started, probe)
        return images

    async def _record(self, ok: bool, started: float, probe: bool) -> None:
        latency_ms = int((time.monotonic() - started) * 1000)
        health = await self._store.record(self._key, ok=ok, latency_ms=latency_ms, probe=probe)
        if ok and probe:
            log.warning("route %s: probe succeeded, circuit closed", self._key)
        elif not ok and health.circuit == "open":  # only the call that opened it (or a failed probe) gets here
            log.error("route %s: circuit open after %d failure(s) in a row", self._key, health.consecutive_failures)


__all__ = ["CircuitBreaker"]
