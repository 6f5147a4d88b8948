"""Wrappers that tell the `Meter` what passes through them, with the interfaces they wrap (habit 4 of the style guide)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..domain.circuits import CircuitHealth, CircuitPermit
from ..domain.meter import Meter
from ..domain.ports import CircuitStore, Provider
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, UpstreamProblem
from .wrapper import ProviderWrapper, UpstreamCall


class MeteredProvider(ProviderWrapper):
    """Latency of every upstream call, and its failures by kind (the `UpstreamProblem` class)."""

    def __init__(self, inner: Provider, route: str, meter: Meter) -> None:
        super().__init__(inner)
        self._route = route
        self._meter = meter

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        started = time.monotonic()
        failure: str | None = None
        try:
            return await call()
        except UpstreamProblem as problem:
            failure = type(problem).__name__
            raise
        finally:
            self._meter.upstream_call(self._route, time.monotonic() - started, failure)


class MeteredCircuits:
    """Each route's circuit state after every recorded call."""

    def __init__(self, inner: CircuitStore, meter: Meter) -> None:
        self._inner = inner
        self._meter = meter

    async def admit(self, key: str, *, lease_seconds: float) -> CircuitPermit:
        return await self._inner.admit(key, lease_seconds=lease_seconds)

    async def record(self, key: str, *, ok: bool, latency_ms: int, probe: bool) -> CircuitHealth:
        health = await self._inner.record(key, ok=ok, latency_ms=latency_ms, probe=probe)
        self._meter.circuit(key, health.circuit)
        return health

    async def health(self, keys: Sequence[str]) -> dict[str, CircuitHealth]:
        return await self._inner.health(keys)

    async def aclose(self) -> None:
        await self._inner.aclose()


__all__ = ["MeteredCircuits", "MeteredProvider"]
