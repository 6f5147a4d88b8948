"""The gateway's `Meter` in Prometheus metrics, in one registry (or, with several workers, shared through files).

With `PROMETHEUS_MULTIPROC_DIR` set (`imagegate serve --workers N` sets it), prometheus-client keeps each
worker's values in memory-mapped files there and a scrape of any worker adds them all up.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from ..domain.circuits import CircuitName
from ..domain.meter import FinishedRequest

REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
CIRCUIT_STATES: dict[CircuitName, int] = {"closed": 0, "half_open": 1, "open": 2}


class PrometheusMeter:
    """A `Meter` (`domain/meter.py`): each of its methods is one or more lines of the text `/metrics` serves."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess_dir = multiprocess_dir
        r = self.registry
        self.requests = Counter(
            "imagegate_requests",
            "Generation requests by model, route and status",
            ["model", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "imagegate_request_duration_seconds",
            "Generation request latency",
            ["model"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "imagegate_upstream_duration_seconds",
            "Latency of one upstream call",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "imagegate_upstream_errors", "Failed upstream calls by kind", ["route", "kind"], registry=r
        )
        self.retries = Counter(
            "imagegate_retries", "Upstream attempts beyond the first, per request", ["model"], registry=r
        )
        self.circuit_state = Gauge(
            "imagegate_circuit_state",
            "Circuit per route: 0 closed, 1 half open, 2 open",
            ["route"],
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.images = Counter("imagegate_images_delivered", "Images delivered to clients", ["model"], registry=r)
        self.held_micros = Counter(
            "imagegate_credit_held_micros", "Credit held before upstream calls (micro-units)", registry=r
        )
        self.captured_micros = Counter(
            "imagegate_credit_captured_micros", "Credit captured for delivered images (micro-units)", registry=r
        )
        self.safety_blocks = Counter(
            "imagegate_safety_blocks", "Safety refusals by category and stage", ["category", "stage"], registry=r
        )
        self.rate_limited = Counter(
            "imagegate_rate_limit_refusals", "Requests refused by a rate limit", ["code"], registry=r
        )

    def held(self, micros: int) -> None:
        self.held_micros.inc(micros)

    def captured(self, micros: int) -> None:
        self.captured_micros.inc(micros)

    def blocked(self, category: str, stage: str) -> None:
        self.safety_blocks.labels(category, stage).inc()

    def upstream_call(self, route: str, seconds: float, failure: str | None) -> None:
        if failure is not None:
            self.upstream_errors.labels(route, failure).inc()
        self.upstream_seconds.labels(route).observe(seconds)

    def circuit(self, route: str, state: CircuitName) -> None:
        self.circuit_state.labels(route).set(CIRCUIT_STATES[state])

    def finished(self, record: FinishedRequest) -> None:
        model = record.model or "-"
        self.requests.labels(model, record.route or "-", str(record.status)).inc()
        self.request_seconds.labels(model).observe(record.latency_ms / 1000)
        if record.attempts > 1:
            self.retries.labels(model).inc(record.attempts - 1)
        if record.status == 200 and record.delivered:
            self.images.labels(model).inc(record.delivered)
        if record.status == 429:
            self.rate_limited.labels(record.error_code or "-").inc()

    def exposition(self) -> bytes:
        """The text a scrape gets: every worker's values when several share the multiprocess folder."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self._multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


__all__ = ["CIRCUIT_STATES", "PrometheusMeter"]
