"""Router: which route serves a request, in what order, with how many upstream calls, and what the
client is told when none does. Real Router, breaker, conformance and retries; scripted upstreams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from imagegate.domain.catalog import Catalog
from imagegate.domain.circuits import BreakerPolicy
from imagegate.domain.errors import ContentBlocked, NoRouteAvailable, UpstreamFailed, UpstreamTimeout
from imagegate.domain.ports import CircuitStore, Provider
from imagegate.domain.principal import Principal
from imagegate.domain.request import parse_image_request
from imagegate.domain.upstream import RetryableUpstreamError, UpstreamRejected, UpstreamTimedOut
from imagegate.imaging.images import inspect
from imagegate.providers.http_client import UpstreamClient
from imagegate.routing.router import Routed, Router
from imagegate.state.circuits_memory import MemoryCircuitStore

from .harness import MODEL, build_router
from .scripted import ScriptedUpstream, all_calls, image

LIVE = Principal(key_id="key_core", account_id="acct_core", mode="live", allowed_models=None)
TEST_KEY = Principal(key_id="key_core_test", account_id="acct_core", mode="test", allowed_models=None)


def with_router(
    catalog: Catalog,
    upstreams: Mapping[str, Provider],
    scenario: Callable[[Router], Awaitable[Any]],
    *,
    circuits: CircuitStore | None = None,
) -> Any:
    async def go() -> Any:
        client = UpstreamClient()
        router = build_router(catalog, upstreams, client, circuits=circuits)
        try:
            return await scenario(router)
        finally:
            await router.aclose()
            await client.aclose()

    return asyncio.run(go())


def generate(catalog: Catalog, upstreams: Mapping[str, Provider], principal: Principal = LIVE, **body: Any) -> Routed:
    request = parse_image_request({"model": MODEL, "prompt": "a red square", **body}, catalog)
    return with_router(catalog, upstreams, lambda router: router.generate(request, principal))  # type: ignore[no-any-return]


def test_the_first_route_serves_when_it_delivers(catalog: Catalog) -> None:
    primary, secondary = ScriptedUpstream([image()]), ScriptedUpstream([image()])
    routed = generate(catalog, {"primary": primary, "secondary": secondary})
    assert (routed.route, routed.attempts, routed.error) == ("primary", 1, None)
    assert len(routed.images) == 1 and inspect(routed.images[0].data).size == (64, 64)
    assert all_calls([primary, secondary]) == [1, 0]


def test_a_failing_route_is_retried_then_failed_over_in_priority_order(catalog: Catalog) -> None:
    primary = ScriptedUpstream(*[RetryableUpstreamError("503 from upstream")] * 3)
    secondary, pngonly = ScriptedUpstream([image()]), ScriptedUpstream([image()])
    routed = generate(catalog, {"primary": primary, "secondary": secondary, "pngonly": pngonly})
    assert routed.error is None and routed.route == "secondary"
    assert routed.attempts == 4  # three on primary, one on secondary
    assert all_calls([primary, secondary, pngonly]) == [3, 1, 0]


def test_retries_that_end_in_success_are_counted_in_attempts(catalog: Catalog) -> None:
    primary = ScriptedUpstream(RetryableUpstreamError("429"), UpstreamTimedOut("slow"), [image()])
    secondary = ScriptedUpstream()
    routed = generate(catalog, {"primary": primary, "secondary": secondary})
    assert (routed.route, routed.attempts, routed.error) == ("primary", 3, None)
    assert all_calls([primary, secondary]) == [3, 0]


def test_a_rejected_call_is_not_retried_but_failed_over(catalog: Catalog) -> None:
    primary, secondary = ScriptedUpstream(UpstreamRejected("401: bad key")), ScriptedUpstream([image()])
    routed = generate(catalog, {"primary": primary, "secondary": secondary})
    assert (routed.route, routed.attempts, routed.error) == ("secondary", 2, None)
    assert all_calls([primary, secondary]) == [1, 1]


def test_a_safety_refusal_is_returned_to_the_client_not_failed_over(catalog: Catalog) -> None:
    blocked = ContentBlocked("The upstream refused this prompt.", code="content_policy_violation")
    primary, secondary = ScriptedUpstream(blocked), ScriptedUpstream([image()])
    routed = generate(catalog, {"primary": primary, "secondary": secondary})
    assert routed.error is blocked and routed.error.status == 451
    assert (routed.route, routed.attempts, routed.images) == ("primary", 1, [])
    assert all_calls([primary, secondary]) == [1, 0]


def test_no_route_available_when_no_route_is_configured(catalog: Catalog) -> None:
    routed = generate(catalog, {})  # no upstream has credentials
    assert isinstance(routed.error, NoRouteAvailable) and routed.error.status == 503
    assert "No upstream is configured" in routed.error.message
    assert (routed.route, routed.attempts, routed.images) == (None, 0, [])


def test_only_configured_routes_are_tried(catalog: Catalog) -> None:
    secondary = ScriptedUpstream(*[RetryableUpstreamError("500")] * 3)
    routed = generate(catalog, {"secondary": secondary})
    assert isinstance(routed.error, UpstreamFailed)
    assert (routed.route, routed.attempts) == ("secondary", 3)


def test_every_route_failing_is_upstream_failed_with_every_attempt_counted(catalog: Catalog) -> None:
    upstreams = {
        name: ScriptedUpstream(*[RetryableUpstreamError("500")] * 3) for name in ("primary", "secondary", "pngonly")
    }
    routed = generate(catalog, upstreams)
    assert isinstance(routed.error, UpstreamFailed) and routed.error.status == 502
    assert routed.attempts == 9 and "9 attempt(s)" in routed.error.message
    assert routed.route == "pngonly"  # the last route tried
    assert all_calls(list(upstreams.values())) == [3, 3, 3]


def test_a_timeout_on_the_last_route_is_upstream_timeout(catalog: Catalog) -> None:
    primary = ScriptedUpstream(UpstreamRejected("400: unknown parameter"))
    secondary = ScriptedUpstream(*[UpstreamTimedOut("no answer in 5 s")] * 3)
    routed = generate(catalog, {"primary": primary, "secondary": secondary})
    assert isinstance(routed.error, UpstreamTimeout) and routed.error.status == 504
    assert routed.attempts == 4


def test_every_route_unavailable_when_every_circuit_is_open(catalog: Catalog) -> None:
    names = ("primary", "secondary", "pngonly")
    upstreams = {name: ScriptedUpstream(UpstreamRejected("401: bad key")) for name in names}
    circuits = MemoryCircuitStore(BreakerPolicy(failures=1, cooldown_seconds=600))
    request = parse_image_request({"model": MODEL, "prompt": "a red square"}, catalog)

    async def scenario(router: Router) -> tuple[Routed, Routed]:
        return await router.generate(request, LIVE), await router.generate(request, LIVE)

    first, second = with_router(catalog, upstreams, scenario, circuits=circuits)
    assert isinstance(first.error, UpstreamFailed) and first.attempts == 3  # one failure each opened all three
    assert isinstance(second.error, NoRouteAvailable) and second.error.status == 503
    assert "temporarily unavailable" in second.error.message
    assert second.attempts == 0  # no upstream was called
    assert all_calls(list(upstreams.values())) == [1, 1, 1]


def test_a_route_with_an_open_circuit_is_skipped_without_counting_an_attempt(catalog: Catalog) -> None:
    primary = ScriptedUpstream(UpstreamRejected("401: bad key"))
    secondary = ScriptedUpstream([image()], [image()])
    circuits = MemoryCircuitStore(BreakerPolicy(failures=1, cooldown_seconds=600))
    request = parse_image_request({"model": MODEL, "prompt": "a red square"}, catalog)

    async def scenario(router: Router) -> tuple[Routed, Routed]:
        return await router.generate(request, LIVE), await router.generate(request, LIVE)

    first, second = with_router(catalog, {"primary": primary, "secondary": secondary}, scenario, circuits=circuits)
    assert (first.route, first.attempts) == ("secondary", 2)
    assert (second.route, second.attempts) == ("secondary", 1)
    assert all_calls([primary, secondary]) == [1, 2]


def test_unusable_bytes_are_retried_like_an_upstream_error(catalog: Catalog) -> None:
    primary = ScriptedUpstream([image((50, 50))], [image((64, 64))])  # the wrong size first
    routed = generate(catalog, {"primary": primary})
    assert (routed.route, routed.attempts, routed.error) == ("primary", 2, None)
    assert inspect(routed.images[0].data).size == (64, 64)


def test_a_size_the_gateway_upscales_is_asked_upstream_at_its_native_size(catalog: Catalog) -> None:
    primary = ScriptedUpstream([image((64, 64))])
    routed = generate(catalog, {"primary": primary}, size="128x128")
    assert primary.requests[0].upstream_size == "64x64"
    assert routed.error is None and inspect(routed.images[0].data).size == (128, 128)


def test_a_test_key_is_served_by_the_offline_preview(catalog: Catalog) -> None:
    primary = ScriptedUpstream()
    routed = generate(catalog, {"primary": primary}, TEST_KEY)
    assert (routed.route, routed.error) == ("preview", None)
    assert len(routed.images) == 1 and inspect(routed.images[0].data).size == (64, 64)
    assert primary.calls == 0


def test_closing_the_router_closes_every_upstream(catalog: Catalog) -> None:
    upstreams = {"primary": ScriptedUpstream(), "secondary": ScriptedUpstream()}
    with_router(catalog, upstreams, lambda router: asyncio.sleep(0))
    assert [u.closed for u in upstreams.values()] == [True, True]
