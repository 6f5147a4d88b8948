"""The admin token under attack, in process on two nodes that share PostgreSQL and Redis: wrong tokens
are limited per client address and over all addresses (429 with Retry-After, for the right token too
once spent, so a guess past the limit learns nothing), on the login form and the admin API alike, and
across nodes; a logout ends the session on every node, for any copy of its cookie."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest

from tests.conftest import PostgresDatabase, require_service
from tests.support.services import require_redis

from .app import InProcess, app_settings, open_app

TOKEN = "guard-tests-admin-token"
PER_ADDRESS, OVERALL, WINDOW = 3, 8, 600


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What two nodes share: the database, Redis (a prefix of their own), the secrets and the limits."""
    require_service("PostgreSQL", 5432)
    redis_url = require_redis()
    database = PostgresDatabase()
    yield {
        "IMAGEGATE_DATABASE_URL": database.create(),
        "IMAGEGATE_REDIS_URL": redis_url,
        "IMAGEGATE_REDIS_PREFIX": f"guard-{secrets.token_hex(4)}",
        "IMAGEGATE_ADMIN_TOKEN": TOKEN,
        "IMAGEGATE_ADMIN_AUTH_FAILURES": str(PER_ADDRESS),
        "IMAGEGATE_ADMIN_AUTH_FAILURES_ALL": str(OVERALL),
        "IMAGEGATE_ADMIN_AUTH_WINDOW_SECONDS": str(WINDOW),
        "IMAGEGATE_JOB_WORKERS": "0",
        "IMAGEGATE_LOG_LEVEL": "warning",
        "IMAGEGATE_ACCESS_LOG": "false",
    }
    database.drop()


def _node(env: dict[str, str], root: Path, name: str) -> AbstractAsyncContextManager[InProcess]:
    """One node of the pair, in this process."""
    return open_app(app_settings(root / name, **{**env, "IMAGEGATE_NODE_ID": name}))


def run(scenario: object) -> None:
    asyncio.run(scenario)  # type: ignore[arg-type]


async def _login(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/admin/login", data={"token": token})


async def _api(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/admin/v1/accounts", headers={"Authorization": f"Bearer {token}"})


def test_wrong_tokens_are_limited_per_address_across_nodes_and_the_right_one_gains_nothing(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with _node(shared_env, tmp_path, "a") as a, _node(shared_env, tmp_path, "b") as b:
            async with a.client_from("203.0.113.10") as on_a, b.client_from("203.0.113.10") as on_b:
                for _ in range(5):  # successful logins and API calls never count
                    assert (await _login(on_a, TOKEN)).status_code == 303
                    assert (await _api(on_b, TOKEN)).status_code == 200
                assert (await _login(on_a, "")).status_code == 401  # no token at all is no guess
                assert (await _api(on_a, "guess-1")).status_code == 401  # the API and the form share the count,
                assert (await _login(on_b, "guess-2")).status_code == 401  # and so do the nodes
                assert (await _api(on_b, "guess-3")).status_code == 401
                for http, attempt in ((on_a, _login), (on_b, _api), (on_a, _api), (on_b, _login)):
                    for token in ("guess-4", TOKEN):  # past the limit, the right token is refused alike
                        refused = await attempt(http, token)
                        assert refused.status_code == 429, (attempt.__name__, token, refused.text[:200])
                        assert refused.headers["retry-after"] == str(WINDOW)
                        assert "set-cookie" not in refused.headers
                api_refusal = await _api(on_a, TOKEN)
                assert api_refusal.json()["error"]["type"] == "rate_limit_error"
                assert "Too many wrong admin tokens" in (await _login(on_b, TOKEN)).text
            async with b.client_from("203.0.113.11") as elsewhere:  # another address is not held back
                assert (await _login(elsewhere, TOKEN)).status_code == 303
                assert (await _api(elsewhere, TOKEN)).status_code == 200

    run(scenario())


def test_wrong_tokens_spread_over_many_addresses_back_everyone_off(shared_env: dict[str, str], tmp_path: Path) -> None:
    env = {**shared_env, "IMAGEGATE_REDIS_PREFIX": f"guard-{secrets.token_hex(4)}"}  # a count of its own

    async def scenario() -> None:
        async with _node(env, tmp_path, "a") as a:
            for i in range(OVERALL):  # one wrong token each from OVERALL addresses: none over its own limit
                async with a.client_from(f"198.51.100.{i + 1}") as http:
                    assert (await _api(http, f"spread-{i}")).status_code == 401
            async with a.client_from("198.51.100.200") as newcomer:
                refused = await _login(newcomer, TOKEN)
                assert refused.status_code == 429 and refused.headers["retry-after"] == str(WINDOW)
                assert (await _api(newcomer, TOKEN)).status_code == 429

    run(scenario())


def test_logout_ends_the_session_for_every_copy_of_its_cookie_on_every_node(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with _node(shared_env, tmp_path, "a") as a, _node(shared_env, tmp_path, "b") as b:
            async with a.client_from("192.0.2.50") as browser:
                assert (await _login(browser, TOKEN)).status_code == 303
                cookie = browser.cookies["imagegate_admin"]
                page = (await browser.get("/admin")).text
                assert "accounts-h" in page
                csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
                assert csrf is not None
            copied = {"imagegate_admin": cookie}
            for node in (a, b):  # the copy opens the dashboard on both nodes while the session lives
                async with node.client_from("192.0.2.51", cookies=copied) as thief:
                    assert "accounts-h" in (await thief.get("/admin")).text
            async with a.client_from("192.0.2.50", cookies=copied) as browser:
                out = await browser.post("/admin/logout", data={"csrf": csrf.group(1)})
                assert out.status_code == 303
            for node in (a, b):
                async with node.client_from("192.0.2.51", cookies=copied) as thief:
                    page = (await thief.get("/admin")).text
                    assert "accounts-h" not in page and "admin-token" in page
                    refused = await thief.post("/admin/accounts", data={"name": "x", "csrf": csrf.group(1)})
                    assert refused.status_code == 401
            async with b.client_from("192.0.2.50") as browser:  # a new login works as before
                assert (await _login(browser, TOKEN)).status_code == 303
                assert "accounts-h" in (await browser.get("/admin")).text

    run(scenario())
