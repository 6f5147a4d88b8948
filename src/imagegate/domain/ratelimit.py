"""Per-key rate limits as a GCRA (generic cell rate algorithm), in pure arithmetic.

A limit of N per minute is a bucket of N units that refills one unit every 60/N seconds: an idle
key may spend its whole minute at once, then one unit per interval. The state of a bucket is one
number, its theoretical arrival time (TAT, milliseconds): the moment it will be full again.
Several buckets (requests and images) are taken together or not at all.

The in-process adapter runs `take` below; the Redis adapter runs the same arithmetic in Lua, so
that one atomic script decides for every node. Keep the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

WINDOW_MS = 60_000.0
_EPSILON_MS = 0.001

Bucket = Literal["requests", "images"]
"""A bucket's name, and the last word of its `x-ratelimit-*-{name}` headers."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One bucket to take from."""

    name: Bucket
    per_minute: int
    cost: int


@dataclass(frozen=True, slots=True)
class BucketStatus:
    name: Bucket
    limit: int
    remaining: int
    reset_ms: int  # until the bucket is full again


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_ms: int  # 0 when allowed
    buckets: tuple[BucketStatus, ...]


class StateUnavailable(Exception):
    """The shared state store (Redis) could not answer in time; the caller picks open or closed."""


def interval_ms(per_minute: int) -> float:
    return WINDOW_MS / per_minute


def take(tats: Sequence[float], now_ms: float, limits: Sequence[Limit]) -> tuple[Decision, list[float]]:
    """Decide one request against every bucket; returns the decision and the buckets' new TATs
    (unchanged when refused). A stored TAT in the past counts as `now`."""
    starts = [max(tat, now_ms) for tat in tats]
    wanted = [start + limit.cost * interval_ms(limit.per_minute) for start, limit in zip(starts, limits, strict=True)]
    waits = [new - WINDOW_MS - now_ms for new in wanted]
    allowed = all(wait <= _EPSILON_MS for wait in waits)
    after = wanted if allowed else starts
    statuses = tuple(
        BucketStatus(
            name=limit.name,
            limit=limit.per_minute,
            remaining=max(0, math.floor((WINDOW_MS - (tat - now_ms)) / interval_ms(limit.per_minute) + 1e-6)),
            reset_ms=math.ceil(tat - now_ms),
        )
        for tat, limit in zip(after, limits, strict=True)
    )
    retry = 0 if allowed else math.ceil(max(waits))
    return Decision(allowed, retry, statuses), after


def duration_text(ms: int) -> str:
    """OpenAI's reset format: `250ms`, `6s`, `1m30s`."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    minutes, rest_ms = divmod(ms, 60_000)
    seconds = f"{rest_ms / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def headers(decision: Decision) -> dict[str, str]:
    """`x-ratelimit-{limit,remaining,reset}-{requests,images}`, plus `retry-after` when refused."""
    out: dict[str, str] = {}
    for bucket in decision.buckets:
        out[f"x-ratelimit-limit-{bucket.name}"] = str(bucket.limit)
        out[f"x-ratelimit-remaining-{bucket.name}"] = str(bucket.remaining)
        out[f"x-ratelimit-reset-{bucket.name}"] = duration_text(bucket.reset_ms)
    if not decision.allowed:
        out["retry-after"] = str(max(1, math.ceil(decision.retry_after_ms / 1000)))
    return out


__all__ = [
    "WINDOW_MS",
    "Bucket",
    "BucketStatus",
    "Decision",
    "Limit",
    "StateUnavailable",
    "duration_text",
    "headers",
    "interval_ms",
    "take",
]
