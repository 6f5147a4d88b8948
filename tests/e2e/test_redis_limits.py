"""Rate limits shared through Redis by two gateway processes, and what happens when Redis is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Gateway, start_gateway
from tests.support.processes import ManagedProcess, free_port
from tests.support.services import private_redis_server, require_redis

pytestmark = pytest.mark.redis
CAT = {"model": "gpt-image-2", "prompt": "a cat"}
RPM = 5
INTERVAL_S = 60 / RPM


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Gateway]]:
    """Two gateway nodes: one database, one Redis."""
    url = require_redis()
    data = tmp_path_factory.mktemp("pair") / "data"
    first = start_gateway(data, None, {"IMAGEGATE_REDIS_URL": url})
    second = start_gateway(data, None, {"IMAGEGATE_REDIS_URL": url})
    yield first, second
    second.process.stop()
    first.process.stop()


def new_key(gateway: Gateway, rpm: int | None = None, ipm: int | None = None) -> str:
    account = gateway.new_account("0", test=True)
    key = gateway.admin(lambda admin: admin.keys.create(account.id, test=True, models=None, rpm=rpm, ipm=ipm))
    return key["key"]  # type: ignore[no-any-return]


def test_two_nodes_share_one_budget(pair: tuple[Gateway, Gateway]) -> None:
    key = new_key(pair[0], rpm=RPM, ipm=100)
    codes = [pair[i % 2].post_images(key, CAT).status_code for i in range(8)]
    assert codes == [200] * RPM + [429] * 3  # node 1 served 3, node 2 served 2, then both refuse


def test_concurrent_load_on_two_nodes_never_exceeds_the_limit(pair: tuple[Gateway, Gateway]) -> None:
    key = new_key(pair[0], rpm=RPM)
    codes: list[int] = []
    lock = threading.Lock()

    def client(gateway: Gateway) -> None:
        with gateway.http() as http:
            for _ in range(10):
                response = http.post("/v1/images/generations", json=CAT, headers={"Authorization": f"Bearer {key}"})
                with lock:
                    codes.append(response.status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(pair[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started

    assert len(codes) == 40 and set(codes) <= {200, 429}
    allowed = RPM + int(elapsed // INTERVAL_S)  # the burst, plus what refilled meanwhile
    assert RPM <= codes.count(200) <= allowed


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[ManagedProcess, str]]:
    with private_redis_server(tmp_path) as server:
        yield server


def test_redis_going_down_fails_open(tmp_path: Path, private_redis: tuple[ManagedProcess, str]) -> None:
    redis_process, url = private_redis
    gateway = start_gateway(
        tmp_path / "data", None, {"IMAGEGATE_REDIS_URL": url, "IMAGEGATE_RATE_LIMIT_ON_ERROR": "open"}
    )
    try:
        key = new_key(gateway, rpm=100)
        before = gateway.post_images(key, CAT)
        redis_process.stop()
        during = [gateway.post_images(key, CAT) for _ in range(3)]
    finally:
        gateway.process.stop()
    assert before.status_code == 200 and before.headers["x-ratelimit-remaining-requests"] == "99"
    assert [r.status_code for r in during] == [200, 200, 200]
    assert "x-ratelimit-limit-requests" not in during[0].headers


def test_redis_down_fails_closed_with_503_never_500(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    gateway = start_gateway(
        tmp_path / "data", None, {"IMAGEGATE_REDIS_URL": dead, "IMAGEGATE_RATE_LIMIT_ON_ERROR": "closed"}
    )
    try:
        limited = new_key(gateway, rpm=100)
        unlimited = new_key(gateway)
        account = gateway.new_account("0", test=True)
        gateway.admin(lambda admin: admin.accounts.set_limits(account.id, rpm=None, ipm=None, max_in_flight=3))
        refused = gateway.post_images(limited, CAT)
        in_flight = gateway.post_images(account.key, CAT)
        served = gateway.post_images(unlimited, CAT)
    finally:
        gateway.process.stop()
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "rate_limiter_unavailable")
    assert refused.headers["retry-after"] == "1"
    assert in_flight.status_code == 503
    assert served.status_code == 200  # a key without limits never needs Redis
