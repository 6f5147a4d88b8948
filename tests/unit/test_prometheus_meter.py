"""Each `Meter` method is a line of the text `/metrics` serves: the names and labels operators' dashboards read."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from imagegate.observability.metrics import PrometheusMeter


@dataclass(frozen=True)
class Finished:
    model: str | None = "gpt-image-2"
    route: str | None = "openai"
    status: int = 200
    error_code: str | None = None
    latency_ms: int = 1500
    attempts: int = 1
    delivered: int = 2


def samples(meter: PrometheusMeter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(meter.exposition().decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_money_blocks_and_circuits_are_counted_under_their_names() -> None:
    meter = PrometheusMeter()
    meter.held(40_000)
    meter.held(2_000)
    meter.captured(30_000)
    meter.blocked("violence", "gateway")
    meter.circuit("gpt-image-2/openai", "open")
    meter.circuit("gpt-image-2/azure", "half_open")
    seen = samples(meter)
    assert seen[("imagegate_credit_held_micros_total", ())] == 42_000
    assert seen[("imagegate_credit_captured_micros_total", ())] == 30_000
    assert seen[("imagegate_safety_blocks_total", (("category", "violence"), ("stage", "gateway")))] == 1
    assert seen[("imagegate_circuit_state", (("route", "gpt-image-2/openai"),))] == 2
    assert seen[("imagegate_circuit_state", (("route", "gpt-image-2/azure"),))] == 1


def test_upstream_calls_count_latency_and_failures_by_kind() -> None:
    meter = PrometheusMeter()
    meter.upstream_call("openai", 0.3, None)
    meter.upstream_call("openai", 7.0, "UpstreamTimedOut")
    seen = samples(meter)
    assert seen[("imagegate_upstream_duration_seconds_count", (("route", "openai"),))] == 2
    assert seen[("imagegate_upstream_duration_seconds_sum", (("route", "openai"),))] == 7.3
    assert seen[("imagegate_upstream_errors_total", (("kind", "UpstreamTimedOut"), ("route", "openai")))] == 1


def test_a_finished_request_counts_its_status_latency_retries_images_and_rate_limit() -> None:
    meter = PrometheusMeter()
    meter.finished(Finished(attempts=3))
    meter.finished(Finished(status=429, error_code="rate_limit_exceeded", route=None, delivered=0))
    meter.finished(Finished(model=None, status=400, route=None, delivered=0))
    seen = samples(meter)
    ok = (("model", "gpt-image-2"), ("route", "openai"), ("status", "200"))
    assert seen[("imagegate_requests_total", ok)] == 1
    assert seen[("imagegate_requests_total", (("model", "gpt-image-2"), ("route", "-"), ("status", "429")))] == 1
    assert seen[("imagegate_requests_total", (("model", "-"), ("route", "-"), ("status", "400")))] == 1
    assert seen[("imagegate_request_duration_seconds_count", (("model", "gpt-image-2"),))] == 2
    assert seen[("imagegate_retries_total", (("model", "gpt-image-2"),))] == 2
    assert seen[("imagegate_images_delivered_total", (("model", "gpt-image-2"),))] == 2
    assert seen[("imagegate_rate_limit_refusals_total", (("code", "rate_limit_exceeded"),))] == 1
