"""A gateway under test, in either tier, and what a test needs to use and inspect it.

`Gateway` is the process tier: `python -m imagegate serve` as an operator starts it, on a loopback port.
`tests/support/inprocess.py` has the in-process tier, a subclass with the same interface (`client()`,
`http()`, `post_images()`, `admin()`, `new_account()`, `usage_row()`, `balance()`, `cli()`), so a
test body does not know which one its fixture gave it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import openai

from imagegate.service.operator.admin import AdminService
from tests.support.operator import DESK, Action
from tests.support.processes import ManagedProcess, free_port
from tests.upstreams.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
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

SMALL_POOLS = {"IMAGEGATE_DATABASE_POOL_SIZE": "4"}
"""Many test gateways share one PostgreSQL (two xdist workers, several nodes each): at the default 20
(+20 when busy) a run can reach the server's max_connections (100), which answers 503s."""

NO_ADMIN_GUESS_LIMIT = {"IMAGEGATE_ADMIN_AUTH_FAILURES": "0", "IMAGEGATE_ADMIN_AUTH_FAILURES_ALL": "0"}
"""Shared gateways hear many wrong admin tokens from one address (every refusal test sends some): the
limit would turn those tests' 401s into 429s. It is tested in process (tests/inprocess/test_admin_guard.py)."""


def _assert_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise AssertionError(f"tests may only reach loopback upstreams, not {url}")


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PROVIDER_VARS)}


@dataclass
class Account:
    id: str
    key: str
    key_id: str


class Gateway:
    """A running gateway process (the process tier) and what a test needs to use and inspect it."""

    def __init__(self, process: ManagedProcess | None, port: int, env: dict[str, str]) -> None:
        self.process = process  # None in the in-process tier
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

    def admin(self, action: Action) -> Any:
        """Run an operator action on the gateway's database, with the service the CLI uses."""
        return DESK.run(self.env, action)

    def cli(self, *args: str) -> str:
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
            account = await admin.accounts.create("test")
            if usd != "0":
                await admin.ledger.add_credit(account["id"], usd, "test funding")
            key = await admin.keys.create(account["id"], test=test, models=models, rpm=None)
            return Account(account["id"], key["key"], key["id"])

        return self.admin(make)

    def usage_row(self, request_id: str) -> dict[str, Any] | None:
        """The usage record the gateway wrote for `request_id`, as the operator's usage view shows it."""
        now = datetime.now(UTC)
        report = self.admin(lambda admin: admin.reports.usage(now - timedelta(hours=1), now + timedelta(minutes=1)))
        return next((row for row in report["data"] if row["id"] == request_id), None)

    def balance(self, account_id: str) -> tuple[int, int]:
        """(balance_micros, held_micros) as the database has them now."""
        account = self.admin(lambda admin: admin.accounts.get(account_id))
        return account["balance_micros"], account["held_micros"]

    def stop(self) -> None:
        """Stop the gateway (SIGTERM, as an operator does) and close its operator service."""
        DESK.close(self.env)
        if self.process is not None:
            self.process.stop()


def gateway_env(data_dir: Path, upstream: FakeOpenAI | None, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a test's gateway gets, in either tier: its data folder, a free port, fast retries,
    the fake OpenAI upstream (when given); every upstream URL loopback."""
    env = {
        "IMAGEGATE_DATA_DIR": str(data_dir),
        "IMAGEGATE_PORT": str(free_port()),
        "IMAGEGATE_SIGNING_SECRET": SIGNING_SECRET,
        "IMAGEGATE_LOG_LEVEL": "warning",
        **FAST_RETRIES,
        **NO_ADMIN_GUESS_LIMIT,
        **SMALL_POOLS,
        **(extra_env or {}),
    }
    if upstream is not None:
        env["OPENAI_API_KEY"] = UPSTREAM_KEY
        env["OPENAI_BASE_URL"] = upstream.base_url
    for name, value in env.items():
        if name.endswith(("_BASE_URL", "_ENDPOINT", "_MODERATION_URL", "_REDIS_URL")):
            _assert_loopback(value)
    return env


def start_gateway(data_dir: Path, upstream: FakeOpenAI | None, extra_env: dict[str, str] | None = None) -> Gateway:
    """`imagegate serve` as a process, ready (its /healthz answers)."""
    env = gateway_env(data_dir, upstream, extra_env)
    port = int(env["IMAGEGATE_PORT"])
    process = ManagedProcess(
        [sys.executable, "-m", "imagegate", "serve"],
        env={**_clean_environ(), **env},
        log_path=data_dir.parent / f"{data_dir.name}.log",
        cwd=ROOT,
        inherit_env=False,
    )
    process.start(ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)
    return Gateway(process, port, env)
