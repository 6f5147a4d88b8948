"""Faults under load: Redis stopped, then PostgreSQL cut and restored, while clients keep generating.

The gateway reaches PostgreSQL through a TCP proxy this test owns (cutting it drops every pooled
connection and refuses new ones, as a restart does) and uses a Redis of its own. Four clients post
live generations throughout. The documented rules must hold: Redis down fails open (served, without
rate-limit headers); the database down fails closed (`503 database_unavailable`, never a 500); once
it is back requests are served again. Nothing is lost: what was captured equals what the clients
were told they were charged, no hold is left once the sweeper has run, and the ledger verifies.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, PostgresDatabase, require_service, start_gateway
from tests.support.processes import ManagedProcess, free_port
from tests.support.services import private_redis_server
from tests.upstreams.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
CLIENTS = 4
BODY = {"model": "gpt-image-2", "prompt": "a lighthouse", "quality": "low"}


def _proxy(port: int, log: Path) -> ManagedProcess:
    process = ManagedProcess(
        [sys.executable, "-m", "tests.support.tcp_proxy", str(port), "5432"], env={}, log_path=log, cwd=ROOT
    )
    process.start(ready_port=port, timeout=20)
    return process


@pytest.fixture
def database() -> Iterator[PostgresDatabase]:
    require_service("PostgreSQL", 5432)
    db = PostgresDatabase()
    db.create()
    yield db
    db.drop()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[tuple[ManagedProcess, str]]:
    with private_redis_server(tmp_path) as server:
        yield server


def _p50(outcomes: list[tuple[float, int, dict[str, str], str]]) -> float | None:
    took = sorted(float(o[2]["took"]) for o in outcomes)
    return round(took[len(took) // 2], 3) if took else None


class Load:
    """Clients posting generations until stopped; every outcome kept."""

    def __init__(self, base_url: str, key: str) -> None:
        self.outcomes: list[tuple[float, int, dict[str, str], str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(base_url, key)) for _ in range(CLIENTS)]

    def _client(self, base_url: str, key: str) -> None:
        with httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
            for _ in range(5000):  # bounded; stopped long before
                if self._stop.is_set():
                    return
                sent = time.monotonic()
                try:
                    r = http.post("/v1/images/generations", json=BODY)
                    outcome = (
                        time.monotonic(),
                        r.status_code,
                        {**r.headers, "took": f"{time.monotonic() - sent:.3f}"},
                        r.text[:300],
                    )
                except httpx.TransportError as exc:
                    outcome = (time.monotonic(), 0, {}, repr(exc))
                with self._lock:
                    self.outcomes.append(outcome)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(90)

    def wait_for(
        self,
        what: str,
        predicate: Callable[[tuple[float, int, dict[str, str], str]], bool],
        count: int,
        since: float,
        timeout: float = 60,
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                seen = sum(1 for o in self.outcomes if o[0] >= since and predicate(o))
            if seen >= count:
                return
            time.sleep(0.05)  # polling the clients' outcomes, bounded
        raise AssertionError(f"waited {timeout:.0f} s for {count} × {what}; got {seen}")


def test_redis_stopped_and_postgres_cut_under_load_lose_nothing(
    tmp_path: Path, upstream: FakeOpenAI, database: PostgresDatabase, redis: tuple[ManagedProcess, str]
) -> None:
    redis_process, redis_url = redis
    proxy_port = free_port()
    proxy = _proxy(proxy_port, tmp_path / "proxy.log")
    upstream.script({"kind": "delay", "seconds": 0.2, "times": 100_000})  # requests are in flight when cut
    env = {
        "IMAGEGATE_DATABASE_URL": database.url.replace(":5432/", f":{proxy_port}/"),
        "IMAGEGATE_REDIS_URL": redis_url,
        "IMAGEGATE_RATE_LIMIT_ON_ERROR": "open",
        "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "10",
        "IMAGEGATE_HOLD_TTL_SECONDS": "12",
        "IMAGEGATE_SWEEP_INTERVAL_SECONDS": "0.5",
    }
    gateway = start_gateway(tmp_path / "data", upstream, env)
    load: Load | None = None
    try:
        account = gateway.new_account("1000")
        key = gateway.admin(
            lambda admin: admin.keys.create(account.id, test=False, models=None, rpm=100_000, ipm=None)
        )["key"]
        load = Load(gateway.base_url, key)

        def ok(o: tuple[float, int, dict[str, str], str]) -> bool:
            return o[1] == 200

        t0 = time.monotonic()
        load.start()
        load.wait_for("200 with Redis", lambda o: ok(o) and "x-ratelimit-limit-requests" in o[2], 10, t0)

        redis_process.stop()
        t_redis = time.monotonic()
        load.wait_for(
            "200 without Redis (fail-open)", lambda o: ok(o) and "x-ratelimit-limit-requests" not in o[2], 10, t_redis
        )

        proxy.stop()  # PostgreSQL "restarts": every connection dropped, new ones refused
        t_cut = time.monotonic()
        load.wait_for("503 database_unavailable", lambda o: o[1] == 503, 20, t_cut)
        time.sleep(max(0.0, 3 - (time.monotonic() - t_cut)))  # the outage lasts 3 s at least (the fault, not a wait)
        proxy = _proxy(proxy_port, tmp_path / "proxy2.log")
        t_back = time.monotonic()
        load.wait_for("200 after PostgreSQL is back", ok, 10, t_back)
        load.stop()

        outcomes = load.outcomes
        statuses = [o[1] for o in outcomes]
        assert 500 not in statuses and 0 not in statuses, [o for o in outcomes if o[1] in (0, 500)][:3]
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert all('"database_unavailable"' in o[3] and o[2].get("retry-after") == "1" for o in outcomes if o[1] == 503)
        charged = sum(int(o[2]["x-imagegate-cost-micros"]) for o in outcomes if o[1] == 200)

        deadline = time.monotonic() + 30
        while gateway.balance(account.id)[1] and time.monotonic() < deadline:
            time.sleep(0.2)  # holds a cut left open are released by the sweeper after their TTL, bounded
        balance, held = gateway.balance(account.id)
        released_s = time.monotonic() - t_back
        assert held == 0
        assert balance == 1_000_000_000 - charged  # captured exactly what the clients were told
        verify = gateway.admin(lambda admin: admin.ledger.verify())
        assert verify["ok"], verify
        summary = {
            "requests": len(outcomes),
            "ok": statuses.count(200),
            "503": statuses.count(503),
            "5xx_other": sum(1 for s in statuses if s >= 500 and s != 503),
            "redis_down_before_db_cut_s": round(t_cut - t_redis, 1),
            "db_cut_s": round(t_back - t_cut, 1),
            "holds_left_released_after_db_back_s": round(released_s, 1),
            "money_lost_micros": 0,
            "p50_s": {
                name: _p50([o for o in outcomes if lo <= o[0] < hi and o[1] == 200])
                for name, lo, hi in (
                    ("redis up", t0, t_redis),
                    ("redis down", t_redis, t_cut),
                    ("after db back", t_back, time.monotonic()),
                )
            },
        }
        (tmp_path / "faults.txt").write_text(repr(summary))
        print(f"faults: {summary}")
    finally:
        if load is not None:
            load.stop()
        gateway.process.stop()
        proxy.stop()
