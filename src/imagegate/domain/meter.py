"""What the gateway counts, as one port: the services and the routing wrappers call a `Meter`.

A new metric is one method here (and in `NullMeter`) plus its line in the Prometheus meter
(`observability/metrics.py`); the caller that knows the fact calls the method. `NullMeter` is what a
gateway with IMAGEGATE_METRICS off is given, so no caller asks whether metrics are on.
"""

from __future__ import annotations

from typing import Protocol

from .circuits import CircuitName


class FinishedRequest(Protocol):
    """What is counted of a finished request: the fields of its usage record (`db.usage.UsageRecord`)."""

    @property
    def model(self) -> str | None: ...
    @property
    def route(self) -> str | None: ...
    @property
    def status(self) -> int: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def latency_ms(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def delivered(self) -> int: ...


class Meter(Protocol):
    def held(self, micros: int) -> None:
        """Credit held before an upstream call."""

    def captured(self, micros: int) -> None:
        """Credit captured for delivered images."""

    def finished(self, request: FinishedRequest) -> None:
        """A request ended (delivered, refused or failed), as its usage record was written."""

    def blocked(self, category: str, stage: str) -> None:
        """A safety refusal: the policy's category (or the error code) and who refused (the gateway, the upstream)."""

    def upstream_call(self, route: str, seconds: float, failure: str | None) -> None:
        """One call to an upstream route and how long it took; `failure`, the kind of `UpstreamProblem` it raised."""

    def circuit(self, route: str, state: CircuitName) -> None:
        """A route's circuit after a recorded call."""


class NullMeter:
    """Counts nothing (IMAGEGATE_METRICS off)."""

    def held(self, micros: int) -> None:
        pass

    def captured(self, micros: int) -> None:
        pass

    def finished(self, request: FinishedRequest) -> None:
        pass

    def blocked(self, category: str, stage: str) -> None:
        pass

    def upstream_call(self, route: str, seconds: float, failure: str | None) -> None:
        pass

    def circuit(self, route: str, state: CircuitName) -> None:
        pass


NULL_METER: Meter = NullMeter()

__all__ = ["NULL_METER", "FinishedRequest", "Meter", "NullMeter"]
