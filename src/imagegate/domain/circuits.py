"""The circuit breaker's rules and a route's recent health, as plain data and pure functions.

A route's circuit is *closed* (calls go through) until `failures` calls in a row have failed; it is
then *open* (no calls) for `cooldown_seconds`, after which it is *half open*: exactly one call, the
probe, goes through (others still see it open). A successful probe closes the circuit; a failed
one opens it for another cool-down. Any success closes it, and resets the count.

The state stores (in process, Redis) keep these fields and apply these rules; `CircuitState` is the
reference implementation the in-process store uses and the Redis store's scripts mirror.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

CircuitPermit = Literal["closed", "probe", "open"]
"""What a route may do now: call normally, call as the one probe, or not call at all."""

CLOSED: CircuitPermit = "closed"
PROBE: CircuitPermit = "probe"
OPEN: CircuitPermit = "open"

CircuitName = Literal["closed", "open", "half_open"]
"""A route's circuit as an operator sees it."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5
    cooldown_seconds: float = 30.0
    window_calls: int = 100
    window_seconds: float = 900.0
    """Recent latency and error rate are taken over the last `window_calls` calls within this time."""


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # unix seconds
    ok: bool
    latency_ms: int

    def encode(self) -> str:
        return f"{self.at:.3f} {int(self.ok)} {self.latency_ms}"

    @classmethod
    def decode(cls, text: str) -> Sample:
        at, ok, latency = text.split()
        return cls(float(at), ok == "1", int(latency))


@dataclass(frozen=True, slots=True)
class CircuitHealth:
    """What an operator sees of one route: its circuit, and how its recent calls went."""

    circuit: CircuitName
    consecutive_failures: int
    opened_at: float | None
    calls: int
    errors: int
    latency_ms_p50: int | None
    latency_ms_p95: int | None

    @property
    def error_rate(self) -> float | None:
        return round(self.errors / self.calls, 4) if self.calls else None

    def as_json(self) -> dict[str, Any]:
        return {
            "circuit": self.circuit,
            "consecutive_failures": self.consecutive_failures,
            "opened_at": self.opened_at,
            "recent": {
                "calls": self.calls,
                "errors": self.errors,
                "error_rate": self.error_rate,
                "latency_ms_p50": self.latency_ms_p50,
                "latency_ms_p95": self.latency_ms_p95,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CircuitHealth:
        recent = data["recent"]
        return cls(
            circuit=data["circuit"],
            consecutive_failures=int(data["consecutive_failures"]),
            opened_at=data["opened_at"],
            calls=int(recent["calls"]),
            errors=int(recent["errors"]),
            latency_ms_p50=recent["latency_ms_p50"],
            latency_ms_p95=recent["latency_ms_p95"],
        )


UNKNOWN_HEALTH = CircuitHealth("closed", 0, None, 0, 0, None, None)
"""A route nothing has been recorded for."""


@dataclass(slots=True)
class CircuitState:
    """One route's breaker, in memory. `now` is unix seconds, passed in so the rules stay pure."""

    failures: int = 0
    opened_at: float | None = None
    probe_until: float = 0.0
    samples: deque[Sample] = field(default_factory=deque)

    def admit(self, now: float, policy: BreakerPolicy, lease_seconds: float) -> CircuitPermit:
        if self.opened_at is None:
            return CLOSED
        if now < self.opened_at + policy.cooldown_seconds or now < self.probe_until:
            return OPEN
        self.probe_until = now + lease_seconds
        return PROBE

    def record(self, now: float, policy: BreakerPolicy, *, ok: bool, latency_ms: int, probe: bool) -> None:
        self.samples.append(Sample(now, ok, latency_ms))
        while len(self.samples) > policy.window_calls:
            self.samples.popleft()
        if ok:
            self.failures, self.opened_at, self.probe_until = 0, None, 0.0
            return
        self.failures += 1
        if probe:
            self.opened_at, self.probe_until = now, 0.0
        elif self.opened_at is None and self.failures >= policy.failures:
            self.opened_at = now

    def health(self, now: float, policy: BreakerPolicy) -> CircuitHealth:
        return health_of(self.failures, self.opened_at, list(self.samples), now, policy)


def health_of(
    failures: int, opened_at: float | None, samples: list[Sample], now: float, policy: BreakerPolicy
) -> CircuitHealth:
    if opened_at is None:
        circuit: CircuitName = "closed"
    else:
        circuit = "open" if now < opened_at + policy.cooldown_seconds else "half_open"
    recent = [s for s in samples if s.at >= now - policy.window_seconds][-policy.window_calls :]
    latencies = sorted(s.latency_ms for s in recent if s.ok)
    return CircuitHealth(
        circuit=circuit,
        consecutive_failures=failures,
        opened_at=opened_at,
        calls=len(recent),
        errors=sum(1 for s in recent if not s.ok),
        latency_ms_p50=_percentile(latencies, 0.50),
        latency_ms_p95=_percentile(latencies, 0.95),
    )


def _percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def route_key(model_id: str, route_name: str) -> str:
    """A circuit is per route of a model: `gemini` of nano-banana-2 and of nano-banana-pro are two."""
    return f"{model_id}/{route_name}"


__all__ = [
    "CLOSED",
    "OPEN",
    "PROBE",
    "UNKNOWN_HEALTH",
    "BreakerPolicy",
    "CircuitHealth",
    "CircuitName",
    "CircuitPermit",
    "CircuitState",
    "Sample",
    "health_of",
    "route_key",
]
