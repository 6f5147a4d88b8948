"""Fixtures: gateways in two tiers, fake upstreams, databases, and operator helpers.

The process tier runs the gateway as `python -m imagegate serve` exactly as an operator starts it; the
in-process tier runs the same app, built the same way, inside the test process (tests/support/
inprocess.py). A module chooses the in-process tier for the shared `gateway` with
`pytestmark = pytest.mark.tier("in_process")`, and for a gateway of its own with `serve_in_process` in
place of `serve_gateway`; tests/README.md says which tests go where. Clients talk to either with the official
`openai` SDK or plain httpx. Upstreams are fakes on 127.0.0.1 that speak the providers' wire formats; no
test can reach a real provider (every base URL is loopback, and the provider variables of the machine's
environment are removed from the gateway's).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import (
    FAST_RETRIES,
    ROOT,
    SIGNING_SECRET,
    UPSTREAM_KEY,
    Account,
    Gateway,
    _clean_environ,
    gateway_env,
    start_gateway,
)
from tests.support.inprocess import InProcessGateway, start_in_process
from tests.support.operator import desk_open
from tests.support.processes import port_accepts
from tests.upstreams.fake_openai import FakeOpenAI

__all__ = [  # what test modules import from here
    "FAST_RETRIES",
    "ROOT",
    "SIGNING_SECRET",
    "UPSTREAM_KEY",
    "Account",
    "Gateway",
    "InProcessGateway",
    "PostgresDatabase",
    "_clean_environ",
    "gateway_env",
    "require_service",
    "serve_gateway",
    "serve_in_process",
    "start_gateway",
    "start_in_process",
    "tier_of",
]


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
    gw.stop()


def serve_in_process(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    upstream: FakeOpenAI | None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Gateway]:
    """`serve_gateway` of the in-process tier: the same app and environment, in this process."""
    db = {"IMAGEGATE_DATABASE_URL": database_url} if database_url else {}
    gw = start_in_process(tmp_path_factory.mktemp(name) / "data", upstream, {**(extra_env or {}), **db})
    yield gw
    gw.stop()


@pytest.fixture(scope="session", autouse=True)
def _admin_desk() -> Iterator[None]:
    """The operator services `Gateway.admin` keeps open, closed when the session ends."""
    with desk_open():
        yield


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


class SharedPostgres:
    """The session's shared PostgreSQL database, created on first use and dropped at the end."""

    def __init__(self) -> None:
        self._database: PostgresDatabase | None = None

    def url(self) -> str:
        if self._database is None:
            require_service("PostgreSQL", 5432)
            database = PostgresDatabase()
            database.create()
            self._database = database
        return self._database.url

    def drop(self) -> None:
        if self._database is not None:
            self._database.drop()


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[SharedPostgres]:
    shared = SharedPostgres()
    yield shared
    shared.drop()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, shared_postgres: SharedPostgres) -> str | None:
    """Every test that runs the gateway runs once on SQLite (the default) and once on PostgreSQL (one
    database for the session, shared by the gateways of every module on it)."""
    return None if request.param == "sqlite" else shared_postgres.url()


@pytest.fixture(scope="module")
def module_database_url(database_url: str | None) -> Iterator[str | None]:
    """Like `database_url`, but on PostgreSQL a database of this module's own: for a module whose
    gateway runs async jobs, which any other module's gateway on the shared database could claim (and
    store its images where this gateway cannot serve them)."""
    if database_url is None:
        yield None
        return
    database = PostgresDatabase()
    yield database.create()
    database.drop()


@pytest.fixture(params=["sqlite", "postgres"])
def own_database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Like `database_url`, but a database of this test's own: for a test whose gateways must be the
    only nodes on it (on the session's shared PostgreSQL database, another module's gateway would sweep
    this test's holds too). None: the SQLite file in the gateway's own data folder."""
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


class SharedGateways:
    """The session's shared gateways, one per tier and database, each started on first use and stopped
    at the end. (As a session fixture parametrized by the database, a gateway would be stopped and
    started again at every switch between SQLite and PostgreSQL, and an xdist worker switches twice in
    every module it runs.)"""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, upstream: FakeOpenAI) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._upstream = upstream
        self._started: dict[tuple[str, str | None], Gateway] = {}

    def get(self, tier: str, database_url: str | None) -> Gateway:
        key = (tier, database_url)
        if key not in self._started:
            start = start_in_process if tier == "in_process" else start_gateway
            db = {"IMAGEGATE_DATABASE_URL": database_url} if database_url else {}
            name = "app" if tier == "in_process" else "gateway"
            self._started[key] = start(self._tmp_path_factory.mktemp(name) / "data", self._upstream, db)
        return self._started[key]

    def stop(self) -> None:
        for gateway in self._started.values():
            gateway.stop()


@pytest.fixture(scope="session")
def shared_gateways(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, shared_postgres: SharedPostgres
) -> Iterator[SharedGateways]:
    shared = SharedGateways(tmp_path_factory, fake_openai)
    yield shared
    shared.stop()  # before shared_postgres drops the database they use


def tier_of(node: pytest.Item | pytest.Collector) -> str:
    """`process` or `in_process`: the closest `tier` mark (a test's own, else its module's), else `process`."""
    mark = node.get_closest_marker("tier")
    tier = mark.args[0] if mark is not None else "process"
    if tier not in ("process", "in_process"):
        raise ValueError(f"unknown tier {tier!r}: `process` or `in_process`")
    return str(tier)


@pytest.fixture
def gateway(request: pytest.FixtureRequest, database_url: str | None, shared_gateways: SharedGateways) -> Gateway:
    """The session's shared gateway, on the test's tier (`pytestmark = pytest.mark.tier("in_process")` for
    a module, `@pytest.mark.tier("process")` for one of its tests that needs a process). Each test makes
    its own accounts, so tests do not see each other's money."""
    return shared_gateways.get(tier_of(request.node), database_url)


@pytest.fixture
def account(gateway: Gateway) -> Account:
    """A fresh account with $10.00 of credit and a live key."""
    return gateway.new_account("10")


@pytest.fixture
def test_account(gateway: Gateway) -> Account:
    """A fresh account with no credit and a test-mode key."""
    return gateway.new_account("0", test=True)
