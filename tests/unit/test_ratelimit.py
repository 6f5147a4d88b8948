"""GCRA arithmetic (domain.ratelimit) and the in-process state on a controlled clock."""

from __future__ import annotations

import asyncio

from imagegate.domain.ratelimit import Limit, duration_text, headers, take
from imagegate.state.limiter_memory import MemoryLimiterState

REQ = Limit("requests", 6, 1)  # one every 10 s, six at once


def test_a_full_bucket_admits_its_limit_then_refuses_until_one_interval_passes() -> None:
    tat, now = [0.0], 100_000.0
    outcomes = []
    for _ in range(7):
        decision, tat = take(tat, now, [REQ])
        outcomes.append((decision.allowed, decision.buckets[0].remaining))
    assert outcomes == [(True, 5), (True, 4), (True, 3), (True, 2), (True, 1), (True, 0), (False, 0)]
    refused, _ = take(tat, now, [REQ])
    assert refused.retry_after_ms == 10_000
    assert take(tat, now + 9_999, [REQ])[0].allowed is False
    assert take(tat, now + 10_000, [REQ])[0].allowed is True


def test_reset_is_the_time_until_the_bucket_is_full() -> None:
    decision, _ = take([0.0], 50_000.0, [REQ])
    assert decision.buckets[0].reset_ms == 10_000
    assert headers(decision)["x-ratelimit-reset-requests"] == "10s"


def test_cost_is_taken_from_every_bucket_or_from_none() -> None:
    limits = [Limit("requests", 60, 1), Limit("images", 4, 3)]
    first, tats = take([0.0, 0.0], 1_000.0, limits)
    second, after = take(tats, 1_000.0, limits)
    assert first.allowed and [b.remaining for b in first.buckets] == [59, 1]
    assert not second.allowed
    assert after == tats  # nothing taken from the request bucket either
    assert second.retry_after_ms == 30_000  # two more image intervals of 15 s


def test_refused_headers_carry_retry_after_in_whole_seconds() -> None:
    _, tats = take([0.0], 0.0, [Limit("requests", 1, 1)])
    refused, _ = take(tats, 59_500.0, [Limit("requests", 1, 1)])
    out = headers(refused)
    assert out["retry-after"] == "1"
    assert (out["x-ratelimit-limit-requests"], out["x-ratelimit-remaining-requests"]) == ("1", "0")


def test_duration_text_follows_openais_format() -> None:
    assert [duration_text(ms) for ms in (0, 250, 1000, 1500, 60_000, 90_000, 360_000)] == [
        "0ms",
        "250ms",
        "1s",
        "1.5s",
        "1m0s",
        "1m30s",
        "6m0s",
    ]


def test_memory_state_refills_with_time_and_keeps_keys_apart() -> None:
    clock = [0.0]
    state = MemoryLimiterState(clock_ms=lambda: clock[0])

    async def go() -> list[bool]:
        results = [(await state.take("a", [REQ])).allowed for _ in range(7)]
        results.append((await state.take("b", [REQ])).allowed)
        clock[0] += 10_000
        results.append((await state.take("a", [REQ])).allowed)
        return results

    assert asyncio.run(go()) == [True] * 6 + [False, True, True]


def test_memory_in_flight_cap_and_expiry() -> None:
    clock = [0.0]
    state = MemoryLimiterState(clock_ms=lambda: clock[0])

    async def go() -> list[bool]:
        out = [await state.enter("acct", "r1", 2, 30), await state.enter("acct", "r2", 2, 30)]
        out.append(await state.enter("acct", "r3", 2, 30))
        await state.leave("acct", "r1")
        out.append(await state.enter("acct", "r3", 2, 30))
        clock[0] += 31_000  # r2 and r3 were never left: their node died
        out.append(await state.enter("acct", "r4", 1, 30))
        return out

    assert asyncio.run(go()) == [True, True, False, True, True]
