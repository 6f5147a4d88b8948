"""Which routes serve a request, in what order, and what the client hears when all of them fail.

Each configured route is wrapped: circuit breaker( conformance( the wire provider ) ), and called
with retries. Retryable problems are retried, then failed over to the next route; a safety refusal
(`ContentBlocked`) is neither, it goes straight back to the client.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace


from ..domain.catalog import Catalog, Route
from ..domain.circuits import route_key
from ..domain.credentials import Credentials
from ..domain.errors import NoRouteAvailable, UpstreamFailed, UpstreamTimeout
from ..domain.ports import CircuitStore, Provider
from ..domain.principal import Principal
from ..domain.request import ImageRequest
from ..domain.upstream import (
    GeneratedImage,
    RouteUnavailable,
    UpstreamProblem,
    UpstreamRejected,
    UpstreamTimedOut,
)
from ..providers.http_client import UpstreamClient
from ..providers.registry import ProviderFactory
from .breaker import CircuitBreaker
from .conform import ConformingProvider
from .retry import RetryPolicy, RouteCall, call_with_retries

log = logging.getLogger("imagegate.routing")

PREVIEW_ROUTE = Route(name="preview", provider="preview", credentials="none", upstream_model="preview")
NO_CREDENTIALS = Credentials(None, None)


@dataclass(slots=True)
class Outcome:
    images: list[GeneratedImage]
    route: str | None = None
    attempts: int = 0
    failures: list[str] = field(default_factory=list)


def route_credentials(route: Route, credentials: Mapping[str, Credentials]) -> Credentials:
    """The route's credentials section, with the route's own base URL, key and api-version laid over it."""
    base = credentials.get(route.credentials, NO_CREDENTIALS)
    return Credentials(
        api_key=route.api_key or base.api_key,
        base_url=route.base_url or base.base_url,
        api_version=route.api_version or base.api_version,
    )


def order_routes(routes: Sequence[Route], rng: random.Random) -> list[Route]:
    """By ascending priority; equal priorities in a weighted random order (Efraimidis-Spirakis)."""
    keyed = [(r.priority, -(rng.random() ** (1.0 / r.weight)), i, r) for i, r in enumerate(routes)]
    return [r for *_, r in sorted(keyed, key=lambda k: k[:3])]


class Router:
    def __init__(
        self,
        catalog: Catalog,
        credentials: Mapping[str, Credentials],
        registry: Mapping[str, ProviderFactory],
        client: UpstreamClient,
        *,
        policy: RetryPolicy,
        attempt_timeout: float,
        deadline_seconds: float,
        circuits: CircuitStore,
        rng: random.Random | None = None,
    ) -> None:
        self._policy = policy
        self._attempt_timeout = attempt_timeout
        self._deadline_seconds = deadline_seconds
        self._rng = rng or random.Random()
        self._providers: dict[tuple[str, str], Provider] = {}
        for model in catalog:
            for route in model.routes:
                factory = registry.get(route.provider)
                if factory is None:
                    log.error("model %s route %s: unknown provider %r, route ignored", model.id, route.name, route.provider)
                    continue
                provider = factory(route, route_credentials(route, credentials), client)
                if provider is not None:
                    conforming = ConformingProvider(provider, route)
                    self._providers[(model.id, route.name)] = CircuitBreaker(
                        conforming, circuits, route_key(model.id, route.name)
                    )
        self._preview = ConformingProvider(
            registry["preview"](PREVIEW_ROUTE, NO_CREDENTIALS, client),  # type: ignore[arg-type]
            PREVIEW_ROUTE,
        )
        self._routes = {model.id: model.routes for model in catalog}

    def is_configured(self, model_id: str, route_name: str) -> bool:
        return (model_id, route_name) in self._providers

    def plan(self, request: ImageRequest, principal: Principal) -> list[tuple[Route, Provider]]:
        """The routes to try, in order; test-mode keys always get the offline preview."""
        if principal.is_test:
            return [(PREVIEW_ROUTE, self._preview)]
        routes = order_routes(self._routes.get(request.model.id, ()), self._rng)
        planned = [
            (route, self._providers[(request.model.id, route.name)])
            for route in routes
            if (request.model.id, route.name) in self._providers
        ]
        if not planned:
            raise NoRouteAvailable(
                f"No upstream is configured for '{request.model.id}'. Ask the operator to set its credentials."
            )
        return planned

    async def generate(self, request: ImageRequest, principal: Principal, outcome: Outcome) -> None:
        """Fill `outcome` with images from the first route that delivers; raise the contract's error if none does."""
        deadline = time.monotonic() + self._deadline_seconds
        problems: list[tuple[Route, UpstreamProblem]] = []
        for route, provider in self.plan(request, principal):
            call = RouteCall()
            outcome.route = route.name
            try:
                outcome.images = await call_with_retries(
                    provider,
                    replace(request, route_size=route.native_size(request.size)),
                    policy=self._policy,
                    attempt_timeout=route.timeout_seconds or self._attempt_timeout,
                    deadline=deadline,
                    call=call,
                )
                return
            except UpstreamProblem as problem:
                problems.append((route, problem))
                outcome.failures.append(problem.message)
                _log_route_failure(route, call, problem)
            finally:
                outcome.attempts += call.attempts
        raise self._final_error(request, problems, outcome)

    def _final_error(
        self, request: ImageRequest, problems: list[tuple[Route, UpstreamProblem]], outcome: Outcome
    ) -> Exception:
        tried = [(route, p) for route, p in problems if not isinstance(p, RouteUnavailable)]
        names = ", ".join(route.name for route, _ in problems)
        if not tried:
            log.error("model %s: every route is unavailable (circuit open): %s", request.model.id, names)
            return NoRouteAvailable(
                f"Every upstream route of '{request.model.id}' is temporarily unavailable. Nothing was charged."
            )
        route, last = tried[-1]
        log.error("model %s: request failed on route(s) %s; last, route %s: %s", request.model.id, names, route.name, last.message)
        if isinstance(last, UpstreamTimedOut):
            return UpstreamTimeout("The upstream did not deliver the image before the deadline. Nothing was charged.")
        if isinstance(last, UpstreamRejected):
            return UpstreamFailed("The upstream refused the gateway's request; the operator has been alerted. Nothing was charged.")
        return UpstreamFailed(f"The upstream failed after {outcome.attempts} attempt(s). Nothing was charged.")

    async def aclose(self) -> None:
        for provider in {id(p): p for p in [*self._providers.values(), self._preview]}.values():
            await provider.aclose()


def _log_route_failure(route: Route, call: RouteCall, problem: UpstreamProblem) -> None:
    if isinstance(problem, RouteUnavailable):
        log.info("route %s skipped: %s", route.name, problem.message)
        return
    level = logging.ERROR if isinstance(problem, UpstreamRejected) else logging.WARNING
    log.log(level, "route %s failed after %d attempt(s): %s", route.name, call.attempts, problem.message)


__all__ = ["Outcome", "Router", "order_routes", "route_credentials"]
