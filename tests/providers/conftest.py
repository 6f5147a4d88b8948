"""Fixtures for the provider and routing tests: fake Gemini, Seedream and Azure upstreams on loopback,
and a gateway process whose every catalog model has a live route to its own fake."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.conftest import Account, Gateway, serve_gateway, serve_in_process, tier_of
from tests.upstreams.fake_azure import FakeAzure
from tests.upstreams.fake_gemini import FakeGemini
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.fake_seedream import FakeSeedream

GEMINI_KEY = "gemini-fake-key"
ARK_KEY = "ark-fake-key"
AZURE_KEY = "azure-fake-key"
AZURE_API_VERSION = "2025-04-01-preview"

NO_BREAKER = {"IMAGEGATE_BREAKER_FAILURES": "1000000"}
"""For gateways whose tests inject failures on purpose but do not test the breaker."""


@pytest.fixture(scope="session")
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=GEMINI_KEY) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="session")
def fake_seedream() -> Iterator[FakeSeedream]:
    with FakeSeedream(api_key=ARK_KEY) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="session")
def fake_azure() -> Iterator[FakeAzure]:
    with FakeAzure(api_key=AZURE_KEY) as fake:
        yield fake  # type: ignore[misc]


def provider_env(gemini: FakeGemini, seedream: FakeSeedream, azure: FakeAzure) -> dict[str, str]:
    """The environment an operator sets for the Gemini, Ark and Azure routes."""
    return {
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini.base_url,
        "ARK_API_KEY": ARK_KEY,
        "ARK_BASE_URL": seedream.base_url,
        "AZURE_OPENAI_API_KEY": AZURE_KEY,
        "AZURE_OPENAI_ENDPOINT": azure.endpoint,
        "OPENAI_API_VERSION": AZURE_API_VERSION,
    }


@pytest.fixture(autouse=True)
def _fresh_fakes(
    fake_openai: FakeOpenAI, fake_gemini: FakeGemini, fake_seedream: FakeSeedream, fake_azure: FakeAzure
) -> Iterator[None]:
    fakes: list[Any] = [fake_openai, fake_gemini, fake_seedream, fake_azure]
    for fake in fakes:
        fake.reset()
    fake_openai.auto_quality = "medium"
    yield
    for fake in fakes:
        fake.reset()


def live_env(gemini: FakeGemini, seedream: FakeSeedream, azure: FakeAzure) -> dict[str, str]:
    """Every catalog model on its shipped route, each to its own fake; breakers out of the way."""
    return {**provider_env(gemini, seedream, azure), **NO_BREAKER, "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "1"}


@pytest.fixture(scope="session")
def process_live_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
) -> Iterator[Gateway]:
    env = live_env(fake_gemini, fake_seedream, fake_azure)
    yield from serve_gateway(tmp_path_factory, "live", fake_openai, extra_env=env)


@pytest.fixture(scope="session")
def in_process_live_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai: FakeOpenAI,
    fake_gemini: FakeGemini,
    fake_seedream: FakeSeedream,
    fake_azure: FakeAzure,
) -> Iterator[Gateway]:
    env = live_env(fake_gemini, fake_seedream, fake_azure)
    yield from serve_in_process(tmp_path_factory, "live-app", fake_openai, extra_env=env)


@pytest.fixture
def live_gateway(request: pytest.FixtureRequest) -> Gateway:
    """Every catalog model on its shipped route (`live_env`), on the test's tier (see `gateway`)."""
    return request.getfixturevalue(f"{tier_of(request.node)}_live_gateway")  # type: ignore[no-any-return]


@pytest.fixture
def funded(live_gateway: Gateway) -> Account:
    """A fresh account with $100 of credit and a live key."""
    return live_gateway.new_account("100")


def write_config(path: Path, toml: str) -> str:
    """An operator's TOML file; every base URL in it must be loopback (no test reaches a real provider)."""
    for line in toml.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "base_url":
            host = urlparse(value.strip().strip('"')).hostname
            assert host in ("127.0.0.1", "localhost"), f"tests may only reach loopback upstreams, not {value}"
    path.write_text(toml, "utf-8")
    return str(path)


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused): an upstream that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    """The local Redis; skipped when it is down, except under CI=true, where that is a failure."""
    if not redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running on 127.0.0.1:6379 (CI=true: the Redis tests must run)")
        pytest.skip("Redis is not running on 127.0.0.1:6379 (start it with scripts/services)")
    return "redis://127.0.0.1:6379/0"
