"""Wrappers with the interfaces they wrap, each counting what passes through (habit 4 of the style guide)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.accounts import AccountsRepo
from ..db.ledger import LedgerRepo
from ..db.runner import Runner
from ..db.usage import UsageRecord, UsageRepo
from ..domain.budgets import BudgetClaim
from ..domain.catalog import Route
from ..domain.circuits import Admission, RouteHealth
from ..domain.credentials import Credentials
from ..domain.errors import ContentBlocked
from ..domain.ports import CircuitStore, Provider
from ..domain.principal import Principal
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, UpstreamProblem
from ..providers.http_client import UpstreamClient
from ..providers.registry import ProviderEntry, Registry
from ..routing.wrapper import ProviderWrapper, UpstreamCall
from ..service.billing import Billing
from ..service.budget_alerts import BudgetAlerts
from ..service.screening import PromptScreen
from .metrics import CIRCUIT_STATES, Metrics


class MeteredProvider(ProviderWrapper):
    """Latency of every upstream call, and its failures by kind (the `UpstreamProblem` class)."""

    def __init__(self, inner: Provider, route: str, metrics: Metrics) -> None:
        super().__init__(inner)
        self._seconds = metrics.upstream_seconds.labels(route)
        self._errors = metrics.upstream_errors
        self._route = route

    async def around(self, call: UpstreamCall, request: ImageRequest, timeout: float) -> list[GeneratedImage]:
        started = time.monotonic()
        try:
            return await call()
        except UpstreamProblem as problem:
            self._errors.labels(self._route, type(problem).__name__).inc()
            raise
        finally:
            self._seconds.observe(time.monotonic() - started)


def metered_registry(registry: Registry, metrics: Metrics) -> dict[str, ProviderEntry]:
    """The same providers, each wrapped in a `MeteredProvider`."""

    def wrap(entry: ProviderEntry) -> ProviderEntry:
        def build(route: Route, credentials: Credentials, client: UpstreamClient) -> Provider | None:
            provider = entry.build(route, credentials, client)
            return MeteredProvider(provider, route.name, metrics) if provider is not None else None

        return replace(entry, build=build)

    return {name: wrap(entry) for name, entry in registry.items()}


class MeteredCircuits:
    """Each route's circuit state after every recorded call."""

    def __init__(self, inner: CircuitStore, metrics: Metrics) -> None:
        self._inner = inner
        self._state = metrics.circuit_state

    async def admit(self, key: str, *, lease_seconds: float) -> Admission:
        return await self._inner.admit(key, lease_seconds=lease_seconds)

    async def record(self, key: str, *, ok: bool, latency_ms: int, probe: bool) -> RouteHealth:
        health = await self._inner.record(key, ok=ok, latency_ms=latency_ms, probe=probe)
        self._state.labels(key).set(CIRCUIT_STATES.get(health.circuit, 0))
        return health

    async def health(self, keys: Sequence[str]) -> dict[str, RouteHealth]:
        return await self._inner.health(keys)

    async def aclose(self) -> None:
        await self._inner.aclose()


class MeteredBilling(Billing):
    """Credit held and captured, and every request's usage record that settles or releases a hold."""

    def __init__(
        self,
        ledger: LedgerRepo,
        accounts: AccountsRepo,
        hold_ttl_seconds: int,
        metrics: Metrics,
        alerts: BudgetAlerts | None = None,
    ) -> None:
        super().__init__(ledger, accounts, hold_ttl_seconds, alerts)
        self.metrics = metrics

    async def hold(
        self,
        principal: Principal,
        request_id: str,
        amount: int,
        what: str,
        *,
        job_ttl_seconds: int | None = None,
        budgets: tuple[BudgetClaim, ...] = (),
    ) -> str:
        hold_id = await super().hold(
            principal, request_id, amount, what, job_ttl_seconds=job_ttl_seconds, budgets=budgets
        )
        self.metrics.held_micros.inc(amount)
        return hold_id

    async def settle(self, hold_id: str, capture: int, reason: str, usage: UsageRecord | None = None) -> None:
        await super().settle(hold_id, capture, reason, usage)
        self.metrics.captured_micros.inc(capture)
        if usage is not None:
            self.metrics.observe(usage)

    async def release(self, hold_id: str, usage: UsageRecord | None = None) -> None:
        await super().release(hold_id, usage)
        if usage is not None:
            self.metrics.observe(usage)


class MeteredUsage(UsageRepo):
    """Usage records of requests that held nothing (refusals, test keys, replays)."""

    def __init__(self, engine: AsyncEngine, runner: Runner | None, metrics: Metrics) -> None:
        super().__init__(engine, runner)
        self.metrics = metrics

    async def record(self, record: UsageRecord) -> None:
        await super().record(record)
        self.metrics.observe(record)


class MeteredScreen(PromptScreen):
    """Safety refusals by category and stage (the gateway's own screening, or the upstream's)."""

    def __init__(self, metrics: Metrics, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def record_block(
        self, blocked: ContentBlocked, principal: Principal, request_id: str, request: ImageRequest | None
    ) -> None:
        self.metrics.safety_blocks.labels(blocked.category or blocked.code, blocked.stage).inc()
        await super().record_block(blocked, principal, request_id, request)


__all__ = ["MeteredBilling", "MeteredCircuits", "MeteredProvider", "MeteredScreen", "MeteredUsage", "metered_registry"]
