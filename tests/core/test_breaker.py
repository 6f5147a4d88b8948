"""CircuitBreaker over the in-process MemoryCircuitStore: a route that keeps failing stops being
called, is probed once after the cool-down, and a safety refusal never counts against it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from imagegate.domain.catalog import Catalog
from imagegate.domain.circuits import BreakerPolicy, CircuitHealth
from imagegate.domain.errors import ContentBlocked
from imagegate.domain.request import ImageRequest, parse_image_request
from imagegate.domain.upstream import GeneratedImage, RetryableUpstreamError, RouteUnavailable, UpstreamRejected
from imagegate.routing.breaker import CircuitBreaker
from imagegate.state.circuits_memory import MemoryCircuitStore

from .harness import MODEL
from .scripted import HeldAnswer, ScriptedUpstream, image

KEY = f"{MODEL}/primary"
FAILURES = 3
LONG = BreakerPolicy(failures=FAILURES, cooldown_seconds=600)
SHORT_COOLDOWN = 0.2
SHORT = BreakerPolicy(failures=FAILURES, cooldown_seconds=SHORT_COOLDOWN)


def request_of(catalog: Catalog) -> ImageRequest:
    return parse_image_request({"model": MODEL, "prompt": "a red square"}, catalog)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def call(breaker: CircuitBreaker, request: ImageRequest) -> list[GeneratedImage] | BaseException:
    """What one call through the breaker came to: the images, or what it raised."""
    try:
        return await breaker.generate(request, timeout=5.0)
    except Exception as exc:
        return exc


async def health(store: MemoryCircuitStore) -> CircuitHealth:
    return (await store.health([KEY]))[KEY]


async def until_half_open(store: MemoryCircuitStore) -> None:
    """Wait out the cool-down (bounded: ten times its length)."""
    deadline = time.monotonic() + 10 * SHORT_COOLDOWN
    while (await health(store)).circuit != "half_open":
        assert time.monotonic() < deadline, "the circuit did not become half open after its cool-down"
        await asyncio.sleep(SHORT_COOLDOWN / 10)


def test_the_circuit_opens_after_n_failures_in_a_row_and_the_route_is_no_longer_called(catalog: Catalog) -> None:
    upstream = ScriptedUpstream(*[RetryableUpstreamError("503")] * FAILURES)
    store = MemoryCircuitStore(LONG)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        for n in range(1, FAILURES):
            assert isinstance(await call(breaker, request), RetryableUpstreamError)
            assert (await health(store)).circuit == "closed", f"open after only {n} failure(s)"
        assert isinstance(await call(breaker, request), RetryableUpstreamError)
        assert (await health(store)).circuit == "open"
        for _ in range(3):
            refused = await call(breaker, request)
            assert isinstance(refused, RouteUnavailable) and KEY in refused.message
        assert upstream.calls == FAILURES  # refused calls never reached the upstream
        stats = await health(store)
        assert (stats.consecutive_failures, stats.calls, stats.errors) == (FAILURES, FAILURES, FAILURES)

    run(scenario)


def test_a_success_resets_the_count_of_failures(catalog: Catalog) -> None:
    failing = [RetryableUpstreamError("503")] * (FAILURES - 1)
    upstream = ScriptedUpstream(*failing, [image()], *failing, [image()])
    store = MemoryCircuitStore(LONG)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        outcomes = [await call(breaker, request) for _ in range(2 * FAILURES)]
        assert [isinstance(o, list) for o in outcomes] == [False, False, True, False, False, True]
        assert (await health(store)).circuit == "closed"

    run(scenario)


def test_a_safety_refusal_counts_as_a_success(catalog: Catalog) -> None:
    failing = [UpstreamRejected("400")] * (FAILURES - 1)
    blocked = ContentBlocked("The upstream refused this prompt.")
    upstream = ScriptedUpstream(*failing, blocked, *failing, [image()])
    store = MemoryCircuitStore(LONG)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        outcomes = [await call(breaker, request) for _ in range(2 * FAILURES)]
        assert outcomes[FAILURES - 1] is blocked  # passed through to the caller unchanged
        assert isinstance(outcomes[-1], list)  # 2 × (FAILURES - 1) failures, never FAILURES in a row
        stats = await health(store)
        assert stats.circuit == "closed" and stats.errors == 2 * (FAILURES - 1)

    run(scenario)


def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes_the_circuit(catalog: Catalog) -> None:
    upstream = ScriptedUpstream(*[RetryableUpstreamError("503")] * FAILURES)
    store = MemoryCircuitStore(SHORT)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        for _ in range(FAILURES):
            await call(breaker, request)
        assert isinstance(await call(breaker, request), RouteUnavailable)
        await until_half_open(store)

        held = HeldAnswer([image()])
        upstream.script.append(held)
        probe = asyncio.create_task(call(breaker, request))
        await asyncio.wait_for(held.entered.wait(), 5)
        # while the probe is in flight, every other call is still refused, and the upstream not called
        assert isinstance(await call(breaker, request), RouteUnavailable)
        assert upstream.calls == FAILURES + 1
        held.release()
        assert isinstance(await asyncio.wait_for(probe, 5), list)
        upstream.script.append([image()])
        assert (await health(store)).circuit == "closed"
        assert isinstance(await call(breaker, request), list)  # calls go through again

    run(scenario)


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(catalog: Catalog) -> None:
    upstream = ScriptedUpstream(*[RetryableUpstreamError("503")] * (FAILURES + 1), [image()])
    store = MemoryCircuitStore(SHORT)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        for _ in range(FAILURES):
            await call(breaker, request)
        await until_half_open(store)
        assert isinstance(await call(breaker, request), RetryableUpstreamError)  # the probe, failed
        assert (await health(store)).circuit == "open"
        assert isinstance(await call(breaker, request), RouteUnavailable)
        assert upstream.calls == FAILURES + 1
        await until_half_open(store)
        assert isinstance(await call(breaker, request), list)
        assert (await health(store)).circuit == "closed"

    run(scenario)


def test_a_safety_refusal_as_the_probe_closes_the_circuit(catalog: Catalog) -> None:
    blocked = ContentBlocked("The upstream refused this prompt.")
    upstream = ScriptedUpstream(*[RetryableUpstreamError("503")] * FAILURES, blocked, [image()])
    store = MemoryCircuitStore(SHORT)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        for _ in range(FAILURES):
            await call(breaker, request)
        await until_half_open(store)
        assert await call(breaker, request) is blocked
        assert (await health(store)).circuit == "closed"
        assert isinstance(await call(breaker, request), list)

    run(scenario)


@pytest.mark.parametrize("problem", [RetryableUpstreamError("503"), UpstreamRejected("401")])
def test_every_upstream_problem_counts_as_a_failure(catalog: Catalog, problem: Exception) -> None:
    upstream = ScriptedUpstream(*[problem] * FAILURES)
    store = MemoryCircuitStore(LONG)
    breaker = CircuitBreaker(upstream, store, KEY)
    request = request_of(catalog)

    async def scenario() -> None:
        for _ in range(FAILURES):
            assert await call(breaker, request) is problem  # raised to the caller unchanged
        assert isinstance(await call(breaker, request), RouteUnavailable)

    run(scenario)
