"""Which routes serve a request, in what order, and what the client hears when all of them fail.

Each configured route is wrapped: circuit breaker( conformance( the wire provider ) ), and called
with retries. Retryable problems are retried, then failed over to the next route; a safety refusal
(`ContentBlocked`) is neither, it goes straight back to the client.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..domain.catalog import Catalog, Route
from ..domain.circuits import route_key
from ..domain.credentials import Credentials
from ..domain.errors import ContentBlocked, GatewayError, NoRouteAvailable, UpstreamFailed, UpstreamTimeout
from ..domain.meter import NULL_METER, Meter
from ..domain.ports import CircuitStore, ImageMarker, MarkingFailed, PartialSink, Provider
from ..domain.principal import Principal
from ..domain.request import ImageRequest
from ..domain.upstream import (
    GeneratedImage,
    RouteUnavailable,
    UpstreamProblem,
    UpstreamRejected,
    UpstreamTimedOut,
)
from ..domain.upstream_cost import SpentCall
from ..providers.http_client import UpstreamClient
from ..providers.registry import Registry
from .breaker import CircuitBreaker
from .conform import ConformingProvider
from .marking import mark_delivered
from .metering import MeteredCircuits, MeteredProvider
from .retry import RetryPolicy, RouteCall, call_with_retries
from .spend import SpendMeter, metering

log = logging.getLogger("imagegate.routing")

PREVIEW_ROUTE = Route(name="preview", provider="preview", credentials="none", upstream_model="preview")
NO_CREDENTIALS = Credentials(None, None)


Operation = Callable[[Provider, ImageRequest, float], Awaitable[list[GeneratedImage]]]
"""One upstream operation on a provider (its `generate`, or any later one), given the attempt's timeout."""


@dataclass(frozen=True, slots=True)
class Routed:
    """How routing went: the images of the route that delivered them, or the contract's error when
    no route did (`ContentBlocked` included). `route` is the last route tried, `attempts` counts
    every upstream request made."""

    images: list[GeneratedImage]
    route: str | None
    attempts: int
    error: GatewayError | None = None
    spent: tuple[SpentCall, ...] = ()
    """Every upstream call that made images, on any route or attempt: what the operator pays for."""


def generate_images(provider: Provider, request: ImageRequest, timeout: float) -> Awaitable[list[GeneratedImage]]:
    return provider.generate(request, timeout=timeout)


def edit_images(provider: Provider, request: ImageRequest, timeout: float) -> Awaitable[list[GeneratedImage]]:
    return provider.edit(request, timeout=timeout)


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
        registry: Registry,
        client: UpstreamClient,
        *,
        policy: RetryPolicy,
        attempt_timeout: float,
        deadline_seconds: float,
        circuits: CircuitStore,
        rng: random.Random | None = None,
        screening_view_side: int | None = None,
        marker: ImageMarker | None = None,
        meter: Meter = NULL_METER,
    ) -> None:
        """`screening_view_side`: output screening is on and reads views of at most that side.
        `marker`: signs every image the routes deliver (C2PA provenance); None leaves them unmarked.
        `meter`: told of every upstream call and every circuit after it."""
        self._policy = policy
        self._marker = marker
        self._attempt_timeout = attempt_timeout
        self._deadline_seconds = deadline_seconds
        self._rng = rng or random.Random()
        self._providers: dict[tuple[str, str], Provider] = {}
        circuits = MeteredCircuits(circuits, meter)
        for model in catalog:
            for route in model.routes:
                entry = registry.get(route.provider)
                if entry is None:
                    log.error(
                        "model %s route %s: unknown provider %r, route ignored", model.id, route.name, route.provider
                    )
                    continue
                provider = entry.build(route, route_credentials(route, credentials), client)
                if provider is not None:
                    spend = SpendMeter(provider, route)  # innermost: every image the upstream made
                    metered = MeteredProvider(spend, route.name, meter)
                    conforming = ConformingProvider(metered, route, marker, view_side=screening_view_side)
                    self._providers[(model.id, route.name)] = CircuitBreaker(
                        conforming, circuits, route_key(model.id, route.name)
                    )
        self._preview = ConformingProvider(
            MeteredProvider(
                registry["preview"].build(PREVIEW_ROUTE, NO_CREDENTIALS, client),  # type: ignore[arg-type]
                PREVIEW_ROUTE.name,
                meter,
            ),
            PREVIEW_ROUTE,
            marker,
            view_side=screening_view_side,
        )
        self._routes = {model.id: model.routes for model in catalog}

    def is_configured(self, model_id: str, route_name: str) -> bool:
        """The route's provider could be built: its credentials are set."""
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

    async def generate(self, request: ImageRequest, principal: Principal) -> Routed:
        return await self.route(request, principal, generate_images)

    async def edit(self, request: ImageRequest, principal: Principal) -> Routed:
        return await self.route(request, principal, edit_images)

    async def stream(self, request: ImageRequest, principal: Principal, partial: PartialSink) -> Routed:
        """A streamed generation or edit: partial images go to `partial` as the upstream streams them."""

        def operation(provider: Provider, request: ImageRequest, timeout: float) -> Awaitable[list[GeneratedImage]]:
            return provider.stream(request, timeout=timeout, partial=partial)

        return await self.route(request, principal, operation)

    async def route(self, request: ImageRequest, principal: Principal, operation: Operation) -> Routed:
        """Run `operation` on the first route that delivers, with retries and failover; never raises
        a contract error, returns it in `Routed.error` with what was tried and the upstream calls
        that made images (`Routed.spent`)."""
        with metering() as spent:
            routed = await self._route(request, principal, operation)
        return replace(routed, spent=tuple(spent))

    async def _route(self, request: ImageRequest, principal: Principal, operation: Operation) -> Routed:
        try:
            plan = self.plan(request, principal)
        except NoRouteAvailable as exc:
            return Routed([], None, 0, exc)
        deadline = time.monotonic() + self._deadline_seconds
        problems: list[tuple[Route, UpstreamProblem]] = []
        attempts = 0
        for route, provider in plan:
            call = RouteCall()
            routed_request = replace(request, route_size=route.native_size(request.size))
            try:
                images = await call_with_retries(
                    lambda timeout: operation(provider, routed_request, timeout),  # noqa: B023 - awaited here
                    policy=self._policy,
                    attempt_timeout=route.timeout_seconds or self._attempt_timeout,
                    deadline=deadline,
                    call=call,
                )
                if self._marker is not None:
                    images = await mark_delivered(self._marker, images)
                return Routed(images, route.name, attempts + call.attempts)
            except MarkingFailed as exc:
                log.error(
                    "model %s route %s: a delivered image could not be marked: %s", request.model.id, route.name, exc
                )
                unmarked = UpstreamFailed(
                    "The upstream's image could not carry the gateway's Content Credentials. Nothing was charged."
                )
                return Routed([], route.name, attempts + call.attempts, unmarked)
            except ContentBlocked as blocked:
                return Routed([], route.name, attempts + call.attempts, blocked)
            except UpstreamProblem as problem:
                problems.append((route, problem))
                _log_route_failure(route, call, problem)
            attempts += call.attempts
        last_route = plan[-1][0].name
        return Routed([], last_route, attempts, self._final_error(request, problems, attempts))

    def _final_error(
        self, request: ImageRequest, problems: list[tuple[Route, UpstreamProblem]], attempts: int
    ) -> GatewayError:
        tried = [(route, p) for route, p in problems if not isinstance(p, RouteUnavailable)]
        names = ", ".join(route.name for route, _ in problems)
        if not tried:
            log.error("model %s: every route is unavailable (circuit open): %s", request.model.id, names)
            return NoRouteAvailable(
                f"Every upstream route of '{request.model.id}' is temporarily unavailable. Nothing was charged."
            )
        route, last = tried[-1]
        log.error(
            "model %s: request failed on route(s) %s; last, route %s: %s",
            request.model.id,
            names,
            route.name,
            last.message,
        )
        if isinstance(last, UpstreamTimedOut):
            return UpstreamTimeout("The upstream did not deliver the image before the deadline. Nothing was charged.")
        if isinstance(last, UpstreamRejected):
            return UpstreamFailed(
                "The upstream refused the gateway's request; the operator has been alerted. Nothing was charged."
            )
        return UpstreamFailed(f"The upstream failed after {attempts} attempt(s). Nothing was charged.")

    async def aclose(self) -> None:
        for provider in {id(p): p for p in [*self._providers.values(), self._preview]}.values():
            await provider.aclose()


def _log_route_failure(route: Route, call: RouteCall, problem: UpstreamProblem) -> None:
    if isinstance(problem, RouteUnavailable):
        log.info("route %s skipped: %s", route.name, problem.message)
        return
    level = logging.ERROR if isinstance(problem, UpstreamRejected) else logging.WARNING
    log.log(level, "route %s failed after %d attempt(s): %s", route.name, call.attempts, problem.message)


__all__ = ["Operation", "Routed", "Router", "edit_images", "generate_images", "order_routes", "route_credentials"]
