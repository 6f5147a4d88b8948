"""Which routes serve a request, in what order, and what the client hears when all of them fail."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ..domain.catalog import Catalog, Route
from ..domain.credentials import Credentials
from ..domain.errors import NoRouteAvailable, UpstreamFailed, UpstreamTimeout
from ..domain.ports import Provider
from ..domain.principal import Principal
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, UpstreamProblem, UpstreamRejected, UpstreamTimedOut
from ..providers.registry import ProviderFactory
from .conform import ConformingProvider
from .retry import RetryPolicy, RouteCall, call_with_retries

log = logging.getLogger("imagegate.routing")

PREVIEW_ROUTE = Route(name="preview", provider="preview", credentials="none", upstream_model="preview")


@dataclass(slots=True)
class Outcome:
    images: list[GeneratedImage]
    route: str | None = None
    attempts: int = 0
    failures: list[str] = field(default_factory=list)


class Router:
    def __init__(
        self,
        catalog: Catalog,
        credentials: Mapping[str, Credentials],
        registry: Mapping[str, ProviderFactory],
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy,
        attempt_timeout: float,
        deadline_seconds: float,
    ) -> None:
        self._policy = policy
        self._attempt_timeout = attempt_timeout
        self._deadline_seconds = deadline_seconds
        self._providers: dict[tuple[str, str], Provider] = {}
        for model in catalog:
            for route in model.routes:
                factory = registry.get(route.provider)
                creds = credentials.get(route.credentials, Credentials(None, None))
                provider = factory(route, creds, client) if factory else None
                if provider is not None:
                    self._providers[(model.id, route.name)] = ConformingProvider(provider)
        self._preview = ConformingProvider(registry["preview"](PREVIEW_ROUTE, Credentials(None, None), client))  # type: ignore[arg-type]
        self._routes = {model.id: model.routes for model in catalog}

    def plan(self, request: ImageRequest, principal: Principal) -> list[tuple[Route, Provider]]:
        """The routes to try, in order; test-mode keys always get the offline preview."""
        if principal.is_test:
            return [(PREVIEW_ROUTE, self._preview)]
        planned = [
            (route, self._providers[(request.model.id, route.name)])
            for route in self._routes.get(request.model.id, ())
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
        last: UpstreamProblem | None = None
        for route, provider in self.plan(request, principal):
            call = RouteCall()
            outcome.route = route.name
            try:
                outcome.images = await call_with_retries(
                    provider,
                    request,
                    policy=self._policy,
                    attempt_timeout=route.timeout_seconds or self._attempt_timeout,
                    deadline=deadline,
                    call=call,
                )
                return
            except UpstreamProblem as problem:
                last = problem
                outcome.failures.append(problem.message)
                level = logging.ERROR if isinstance(problem, UpstreamRejected) else logging.WARNING
                log.log(level, "route %s failed after %d attempt(s): %s", route.name, call.attempts, problem.message)
            finally:
                outcome.attempts += call.attempts
        assert last is not None
        if isinstance(last, UpstreamTimedOut):
            raise UpstreamTimeout("The upstream did not deliver the image before the deadline.")
        if isinstance(last, UpstreamRejected):
            raise UpstreamFailed("The upstream refused the gateway's request; the operator has been alerted.")
        raise UpstreamFailed(f"The upstream failed after {outcome.attempts} attempt(s). Nothing was charged.")

    async def aclose(self) -> None:
        for provider in {id(p): p for p in [*self._providers.values(), self._preview]}.values():
            await provider.aclose()


__all__ = ["Outcome", "Router"]
