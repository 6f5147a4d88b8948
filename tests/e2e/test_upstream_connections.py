"""More requests in flight than upstream connections allowed: they wait for a connection, none fails.

Each request in flight holds two descriptors (its client's socket and its upstream's), so at the
open-file limit a gateway must queue upstream calls rather than fail them with "too many open files"
(which would also open the route's circuit). `IMAGEGATE_UPSTREAM_MAX_CONNECTIONS` sets the cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import UPSTREAM_KEY, Gateway, serve_in_process
from tests.upstreams.fake_openai import FakeOpenAI

REQUESTS = 4


@pytest.fixture(scope="module")
def own_upstream() -> Iterator[FakeOpenAI]:
    """Its own fake, so that its connection count is this gateway's alone."""
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def one_connection_gateway(tmp_path_factory: pytest.TempPathFactory, own_upstream: FakeOpenAI) -> Iterator[Gateway]:
    yield from serve_in_process(
        tmp_path_factory, "one-connection", own_upstream, extra_env={"IMAGEGATE_UPSTREAM_MAX_CONNECTIONS": "1"}
    )


def test_requests_beyond_the_connection_cap_wait_for_one(
    one_connection_gateway: Gateway, own_upstream: FakeOpenAI
) -> None:
    gateway = one_connection_gateway
    account = gateway.new_account("10")
    own_upstream.script(*[{"kind": "delay", "seconds": 0.2}] * REQUESTS)
    client = gateway.client(account.key)

    def generate(i: int) -> str:
        result = client.images.generate(model="gpt-image-2", prompt=f"a lighthouse {i}", size="1024x1024")
        assert result.data is not None
        return result.data[0].url or ""

    with ThreadPoolExecutor(REQUESTS) as pool:
        urls = list(pool.map(generate, range(REQUESTS)))

    assert len(set(urls)) == REQUESTS and all(urls)
    assert len(own_upstream.requests) == REQUESTS
    assert own_upstream.connections_opened == 1  # one at a time, over the one kept-alive connection
    assert gateway.balance(account.id) == (10_000_000 - REQUESTS * 53_000, 0)
