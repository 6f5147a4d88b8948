"""The Redis limiter state against the real Redis on 127.0.0.1:6379, beside the in-process one:
same decisions, atomic under concurrency, and StateUnavailable (never a Redis error) when down."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from imagegate.domain.ratelimit import Limit, StateUnavailable
from imagegate.state.limiter_memory import MemoryLimiterState
from imagegate.state.limiter_redis import RedisLimiterState
from tests.support.processes import free_port
from tests.support.services import require_redis

REQ = Limit("requests", 6, 1)
IMG = Limit("images", 10, 3)


def fresh(name: str) -> str:
    return f"test-{name}-{uuid.uuid4().hex}"  # never collides with another run or engineer


@pytest.mark.redis
def test_redis_and_memory_decide_alike() -> None:
    url = require_redis()

    async def trace(state: RedisLimiterState | MemoryLimiterState) -> list[tuple[bool, list[int]]]:
        key = fresh("parity")
        out = []
        for _ in range(5):
            decision = await state.take(key, [REQ, IMG])
            out.append((decision.allowed, [b.remaining for b in decision.buckets]))
        await state.aclose()
        return out

    redis_trace = asyncio.run(trace(RedisLimiterState(url)))
    assert redis_trace == asyncio.run(trace(MemoryLimiterState()))
    assert redis_trace == [(True, [5, 7]), (True, [4, 4]), (True, [3, 1]), (False, [3, 1]), (False, [3, 1])]


@pytest.mark.redis
def test_concurrent_takes_admit_exactly_the_limit() -> None:
    url = require_redis()

    async def burst() -> int:
        states = [RedisLimiterState(url) for _ in range(4)]  # four "nodes"
        key = fresh("burst")
        try:
            decisions = await asyncio.gather(*(states[i % 4].take(key, [REQ]) for i in range(40)))
        finally:
            for state in states:
                await state.aclose()
        return sum(d.allowed for d in decisions)

    assert asyncio.run(burst()) == 6


@pytest.mark.redis
def test_concurrent_enters_admit_exactly_the_cap() -> None:
    url = require_redis()

    async def crowd() -> tuple[int, bool]:
        states = [RedisLimiterState(url) for _ in range(3)]
        scope = fresh("inflight")
        try:
            entered = await asyncio.gather(*(states[i % 3].enter(scope, f"r{i}", 4, 30) for i in range(30)))
            winner = next(f"r{i}" for i, ok in enumerate(entered) if ok)
            await states[0].leave(scope, winner)
            again = await states[1].enter(scope, "late", 4, 30)
        finally:
            for state in states:
                await state.aclose()
        return sum(entered), again

    assert asyncio.run(crowd()) == (4, True)


def test_unreachable_redis_is_state_unavailable() -> None:
    async def attempt() -> None:
        state = RedisLimiterState(f"redis://127.0.0.1:{free_port()}/0")
        try:
            with pytest.raises(StateUnavailable):
                await state.take("k", [REQ])
            with pytest.raises(StateUnavailable):
                await state.enter("a", "r", 1, 5)
            with pytest.raises(StateUnavailable):
                await state.leave("a", "r")
        finally:
            await state.aclose()

    asyncio.run(attempt())
