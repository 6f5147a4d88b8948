"""GET /metrics: Prometheus text whose counters match the requests sent (one worker, and two)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, Gateway, _clean_environ, start_gateway
from tests.support.processes import ManagedProcess, free_port
from tests.upstreams.fake_openai import FakeOpenAI


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{base_url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, have), value in samples.items()
        if sample == name and all((k, v) in have for k, v in labels.items())
    )


@contextlib.contextmanager
def metered_gateway(tmp_path_factory: pytest.TempPathFactory, upstream: FakeOpenAI) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("metered") / "data", upstream, {"IMAGEGATE_METRICS": "true"})
    try:
        yield gateway
    finally:
        gateway.process.stop()


def test_metrics_are_off_by_default(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.base_url}/metrics", timeout=30).status_code == 404


def test_counters_match_the_requests_sent(tmp_path_factory: pytest.TempPathFactory, upstream: FakeOpenAI) -> None:
    with metered_gateway(tmp_path_factory, upstream) as gateway:
        live = gateway.new_account("10")
        test = gateway.new_account("0", test=True)
        ok_live, ok_test, bad = 3, 4, 2
        body = {"model": "gpt-image-2", "prompt": "a lighthouse", "size": "1024x1024", "quality": "low"}
        for _ in range(ok_live):
            assert gateway.post_images(live.key, body).status_code == 200
        for _ in range(ok_test):
            assert gateway.post_images(test.key, {**body, "n": 2}).status_code == 200
        for _ in range(bad):
            assert gateway.post_images(live.key, {**body, "size": "7x7"}).status_code == 400
        upstream.script({"kind": "server_error", "times": 2})  # two upstream failures, retried, then an image
        assert gateway.post_images(live.key, body).status_code == 200

        samples = scrape(gateway.base_url)
        assert total(samples, "imagegate_requests_total", status="200") == ok_live + ok_test + 1
        assert total(samples, "imagegate_requests_total", status="400") == bad
        assert total(samples, "imagegate_request_duration_seconds_count") == ok_live + ok_test + bad + 1
        assert total(samples, "imagegate_images_delivered_total", model="gpt-image-2") == ok_live + 2 * ok_test + 1
        assert total(samples, "imagegate_retries_total") == 2
        assert total(samples, "imagegate_upstream_errors_total") == 2
        assert total(samples, "imagegate_upstream_duration_seconds_count") >= ok_live + 3
        balance, held = gateway.balance(live.id)
        assert held == 0
        assert total(samples, "imagegate_credit_captured_micros_total") == 10_000_000 - balance


def test_two_workers_add_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = tmp_path_factory.mktemp("two-workers") / "data"
    port = free_port()
    env = {
        **_clean_environ(),
        "IMAGEGATE_DATA_DIR": str(data),
        "IMAGEGATE_PORT": str(port),
        "IMAGEGATE_METRICS": "true",
        "IMAGEGATE_LOG_LEVEL": "warning",
    }
    process = ManagedProcess(
        [sys.executable, "-m", "imagegate", "serve", "--workers", "2"],
        env,
        data.parent / "two.log",
        cwd=ROOT,
        inherit_env=False,
    )
    process.start(ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)
    try:
        gateway = Gateway(process, port, env)
        key = gateway.new_account("0", test=True).key
        sent = 16
        for _ in range(sent):  # a new connection each: the kernel spreads them over both workers
            response = gateway.post_images(key, {"model": "gpt-image-2", "prompt": "a lighthouse", "size": "1024x1024"})
            assert response.status_code == 200
        for _ in range(3):  # any worker's scrape sees every worker's counts
            assert total(scrape(gateway.base_url), "imagegate_requests_total", status="200") == sent
    finally:
        process.stop()
