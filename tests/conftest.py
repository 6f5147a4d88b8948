"""Fixtures: a real gateway process on loopback, fake upstreams, and operator helpers.

The gateway runs as `python -m imagegate serve` exactly as an operator starts it; clients talk to
it with the official `openai` SDK or plain httpx. Upstreams are fakes on 127.0.0.1 that speak the
providers' wire formats; no test can reach a real provider (every base URL is loopback, and the
provider variables of the machine's environment are removed from the gateway's).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import openai
import pytest

from imagegate.config import load_settings
from imagegate.service.admin import AdminService
from imagegate.wiring import open_admin
from tests.support.processes import ManagedProcess, free_port, port_accepts
from tests.upstreams.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_KEY = "sk-fake-upstream"
SIGNING_SECRET = "test-signing-secret-not-for-production"
_PROVIDER_VARS = ("IMAGEGATE_", "OPENAI_", "AZURE_OPENAI_", "GEMINI_", "ARK_")

# Fast retries so failure tests take seconds; the policy's shape is what is under test.
FAST_RETRIES = {
    "IMAGEGATE_RETRY_ATTEMPTS": "3",
    "IMAGEGATE_RETRY_BASE_SECONDS": "0.01",
    "IMAGEGATE_RETRY_MAX_SECONDS": "5",
    "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "1.5",
    "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "20",
    # One gateway serves many failure tests in a row: its circuits must not open between them.
    # The breaker itself is tested on gateways of its own (tests/providers/test_routing.py).
    "IMAGEGATE_BREAKER_FAILURES": "1000000",
}

NO_ADMIN_GUESS_LIMIT = {"IMAGEGATE_ADMIN_AUTH_FAILURES": "0", "IMAGEGATE_ADMIN_AUTH_FAILURES_ALL": "0"}
"""Shared gateways hear many wrong admin tokens from one address (every refusal test sends some): the
limit would turn those tests' 401s into 429s. It is tested in process (tests/web/test_admin_guard.py)."""


def _assert_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise AssertionError(f"tests may only reach loopback upstreams, not {url}")


@dataclass
class Account:
    id: str
    key: str
    key_id: str


class Gateway:
    """A running gateway process and what a test needs to use and inspect it."""

    def __init__(self, process: ManagedProcess, port: int, env: dict[str, str]) -> None:
        self.process = process
        self.port = port
        self.env = env
        self.base_url = f"http://127.0.0.1:{port}"
        self.data_dir = Path(env["IMAGEGATE_DATA_DIR"])

    def client(self, key: str, **kwargs: Any) -> openai.OpenAI:
        """The official SDK, configured as a user would; no client-side retries to hide ours."""
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=key, max_retries=0, timeout=60, **kwargs)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60)

    def post_images(
        self, key: str | None, body: Any, headers: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
        with self.http() as http:
            if isinstance(body, (bytes, str)):
                return http.post("/v1/images/generations", content=body, headers=headers, **kwargs)
            return http.post("/v1/images/generations", json=body, headers=headers, **kwargs)

    def admin(self, action: Callable[[AdminService], Awaitable[Any]]) -> Any:
        """Run an operator action on the gateway's database, as the CLI does."""

        async def run() -> Any:
            async with open_admin(load_settings(self.env)) as admin:
                return await action(admin)

        return asyncio.run(run())

    def cli(self, *args: str) -> str:
        import subprocess

        result = subprocess.run(
            [sys.executable, "-m", "imagegate", *args],
            env={**_clean_environ(), **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"imagegate {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def new_account(self, usd: str = "10", *, test: bool = False, models: list[str] | None = None) -> Account:
        async def make(admin: AdminService) -> Account:
            account = await admin.create_account("test")
            if usd != "0":
                await admin.add_credit(account["id"], usd, "test funding")
            key = await admin.create_key(account["id"], test=test, models=models, rpm=None)
            return Account(account["id"], key["key"], key["id"])

        return self.admin(make)

    def usage_row(self, request_id: str) -> dict[str, Any] | None:
        """The usage record the gateway wrote for `request_id`, as the operator's usage view shows it."""
        from datetime import datetime, timedelta

        now = datetime.now(UTC)
        report = self.admin(lambda admin: admin.usage(now - timedelta(hours=1), now + timedelta(minutes=1)))
        return next((row for row in report["data"] if row["id"] == request_id), None)

    def balance(self, account_id: str) -> tuple[int, int]:
        """(balance_micros, held_micros) as the database has them now."""
        account = self.admin(lambda admin: admin.get_account(account_id))
        return account["balance_micros"], account["held_micros"]


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PROVIDER_VARS)}


def start_gateway(data_dir: Path, upstream: FakeOpenAI | None, extra_env: dict[str, str] | None = None) -> Gateway:
    port = free_port()
    env = {
        "IMAGEGATE_DATA_DIR": str(data_dir),
        "IMAGEGATE_PORT": str(port),
        "IMAGEGATE_SIGNING_SECRET": SIGNING_SECRET,
        "IMAGEGATE_LOG_LEVEL": "warning",
        **FAST_RETRIES,
        **NO_ADMIN_GUESS_LIMIT,
        **(extra_env or {}),
    }
    if upstream is not None:
        env["OPENAI_API_KEY"] = UPSTREAM_KEY
        env["OPENAI_BASE_URL"] = upstream.base_url
    for name, value in env.items():
        if name.endswith(("_BASE_URL", "_ENDPOINT", "_MODERATION_URL", "_REDIS_URL")):
            _assert_loopback(value)
    process = ManagedProcess(
        [sys.executable, "-m", "imagegate", "serve"],
        env={**_clean_environ(), **env},
        log_path=data_dir.parent / f"{data_dir.name}.log",
        cwd=ROOT,
        inherit_env=False,
    )
    process.start(ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)
    return Gateway(process, port, env)


def serve_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    upstream: FakeOpenAI | None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Gateway]:
    """For a fixture to `yield from`: a gateway in a fresh data folder `name` (on `database_url` when
    set), stopped afterwards."""
    db = {"IMAGEGATE_DATABASE_URL": database_url} if database_url else {}
    gw = start_gateway(tmp_path_factory.mktemp(name) / "data", upstream, {**(extra_env or {}), **db})
    yield gw
    gw.process.stop()


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


@pytest.fixture
def upstream(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The fake OpenAI upstream, with an empty script and request log for this test."""
    fake_openai.reset()
    fake_openai.auto_quality = "medium"
    yield fake_openai
    fake_openai.reset()


def require_service(name: str, port: int) -> None:
    """Skip, saying why, when a local service is down; under CI=true its absence is a failure."""
    if port_accepts(port, timeout=1):
        return
    message = f"{name} is not reachable on 127.0.0.1:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing service fails the run)")
    pytest.skip(f"{message}; start it (scripts/services) to run this test")


class PostgresDatabase:
    """A throwaway database on the local PostgreSQL, dropped at the end."""

    ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

    def __init__(self) -> None:
        self.name = f"imagegate_test_{secrets.token_hex(6)}"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.name}"

    def _admin(self, sql: str) -> None:
        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(self.ADMIN_DSN)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(run())

    def create(self) -> str:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Every test that runs the gateway runs once on SQLite (the default) and once on PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    require_service("PostgreSQL", 5432)
    database = PostgresDatabase()
    yield database.create()
    database.drop()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database for one test (a migration's): a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    require_service("PostgreSQL", 5432)
    database = PostgresDatabase()
    yield database.create()
    database.drop()


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, database_url: str | None
) -> Iterator[Gateway]:
    yield from serve_gateway(tmp_path_factory, "gateway", fake_openai, database_url)


@pytest.fixture
def account(gateway: Gateway) -> Account:
    """A fresh account with $10.00 of credit and a live key."""
    return gateway.new_account("10")


@pytest.fixture
def test_account(gateway: Gateway) -> Account:
    """A fresh account with no credit and a test-mode key."""
    return gateway.new_account("0", test=True)
